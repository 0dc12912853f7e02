// The link layer's reading and writing (PROTOCOL.md section 6): lines in, through TLS
// when the herd has it (PROTOCOL.md section 11); floods, catch-up and handshake lines out,
// batched into as few writes as a loop pass allows.
#include <algorithm>

#include "core/fields.hpp"
#include "core/message.hpp"
#include "core/tls_channel.hpp"
#include "server/links.hpp"
#include "server/links_internal.hpp"
#include "server/logging.hpp"

namespace herd {

using namespace link_limits;
// ---- reading -----------------------------------------------------------------------

bool Links::start_reading(Conn* c) {
  int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        auto* cc = static_cast<Conn*>(h->data);
        buf->base = cc->links->read_buf_.data();
        buf->len = cc->links->read_buf_.size();
      },
      on_read);
  if (rc != 0) {
    close_conn(c, std::string("read: ") + uv_strerror(rc));
    return false;
  }
  c->reading = true;
  return true;
}

void Links::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  Links* L = c->links;
  // A draining connection reads nothing more, except a TLS handshake it still needs.
  const bool tls_handshaking = c->tls && !c->tls->established();
  if (nread == 0 || c->closing || (c->draining && !tls_handshaking)) return;
  if (nread < 0) {
    L->close_conn(c, nread == UV_EOF
                         ? "closed by the neighbour"
                         : std::string("read: ") + uv_strerror(static_cast<int>(nread)));
    return;
  }
  try {
    L->receive(c, buf->base, static_cast<std::size_t>(nread));
  } catch (const std::exception& e) {
    L->close_conn(c, std::string("internal error: ") + e.what());
  }
}

void Links::receive(Conn* c, const char* data, std::size_t len) {
  if (c->tls) {
    const bool was_established = c->tls->established();
    tls_plain_.clear();
    const TlsChannel::Status st = c->tls->feed(data, len, tls_plain_);
    if (c->tls->has_output()) want_write(c);
    if (st == TlsChannel::Status::failed) {
      log().warn("link {} ({}): TLS {} failed: {}", c->who(), c->remote,
                 c->tls->established() ? "connection" : "handshake", c->tls->error());
      ctx_.metrics->tls_failures_link.fetch_add(1, std::memory_order_relaxed);
      close_conn(c, "TLS error: " + c->tls->error());
      return;
    }
    if (!was_established && c->tls->established()) {
      log().info("link {} ({}): TLS established ({}, peer {})", c->who(), c->remote,
                 c->tls->description(), c->tls->peer_subject());
      want_write(c);  // lines queued during the handshake go now
    }
    if (st == TlsChannel::Status::closed && tls_plain_.empty()) {
      close_conn(c, "closed by the neighbour (TLS close_notify)");
      return;
    }
    data = tls_plain_.data();
    len = tls_plain_.size();
    if (c->draining || len == 0) return;
  }
  FeedResult r = c->splitter.feed(data, len, [c, this](std::string_view line) {
    handle_line(c, line);
    // A refused handshake reads nothing more (PROTOCOL.md section 6).
    return !c->closing && !c->draining;
  });
  if (r == FeedResult::too_long) {
    close_conn(c,
               c->state == Conn::State::up
                   ? "line longer than " + std::to_string(link_max_line_) + " bytes"
                   : "handshake line longer than " + std::to_string(kHandshakeMaxLine) + " bytes");
    return;
  }
  if (c->tls && c->tls->peer_closed() && !c->closing) {
    close_conn(c, "closed by the neighbour (TLS close_notify)");
    return;
  }
  // Yield after a burst (a big catch-up) so the loop's other work is not held up.
  if (!c->closing && c->lines_this_pass >= kLinesPerPass && c->reading) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->reading = false;
    c->paused = true;
    paused_.push_back(c);
    uv_idle_start(&idle_, [](uv_idle_t*) {});
  }
}

void Links::handle_line(Conn* c, std::string_view line) {
  if (c->closing || c->draining) return;
  ++c->lines_this_pass;
  if (c->state == Conn::State::up) {
    if (trim(line).empty()) return;
    handle_at(c, line);
    return;
  }
  log().info("link {} from {} < {}", c->who(), c->remote, for_log(line));
  handle_handshake(c, line);
}

void Links::handle_at(Conn* c, std::string_view line) {
  log_batch_.link_traffic(c->peer->name, '<', line);
  std::string_view t = trim(line);
  Message m = parse_message(t);
  RecordRef rec = m.kind == MessageKind::at ? RecordRef::from_at_line(t, m) : RecordRef();
  if (!rec) {
    log_batch_.line("warning",
                    "link " + c->peer->name + ": ignoring a line that is not an AT line");
    return;
  }
  if (ctx_.table.offer(rec)) {
    ctx_.metrics->records_stored.fetch_add(1, std::memory_order_relaxed);
    flood(rec, c->peer);
  }
}

void Links::flood(const RecordRef& rec, const Peer* except) {
  for (auto& p : peers_) {
    if (p.get() != except && p->up) enqueue(p->up, rec);
  }
}

// ---- writing -----------------------------------------------------------------------

void Links::send_control(Conn* c, std::string line) {
  log().info("link {} to {} > {}", c->who(), c->remote,
             for_log(std::string_view(line).substr(0, line.size() - 1)));
  c->control += line;
  want_write(c);
}

void Links::enqueue(Conn* c, const RecordRef& rec) {
  if (c->closing || c->state != Conn::State::up) return;
  const std::size_t n = rec->line_nl().size();
  if (c->queued_bytes + n > kQueueCapBytes) {
    close_conn(c, "output queue over 16 MiB (the neighbour is too slow); catch-up will repair it");
    return;
  }
  c->floods.push_back(rec);
  c->queued_bytes += n;
  want_write(c);
}

void Links::want_write(Conn* c) {
  if (c->dirty || c->closing) return;
  c->dirty = true;
  dirty_.push_back(c);
  uv_idle_start(&idle_, [](uv_idle_t*) {});
}

void Links::flush_writes() {
  std::vector<Conn*> dirty;
  dirty.swap(dirty_);
  for (Conn* c : dirty) {
    c->dirty = false;
    if (!c->closing) kick(c);
  }
}

void Links::on_check(uv_check_t* h) {
  auto* L = static_cast<Links*>(h->data);
  L->flush_writes();
  std::vector<Conn*> paused;
  paused.swap(L->paused_);
  for (Conn* c : paused) {
    c->paused = false;
    c->lines_this_pass = 0;
    if (!c->closing && !c->reading && !c->draining) L->start_reading(c);
  }
  for (Conn* c : L->conns_) c->lines_this_pass = 0;
  if (L->dirty_.empty() && L->paused_.empty()) uv_idle_stop(&L->idle_);
  L->log_batch_.flush();
}

void Links::start_catchup(Conn* c) {
  log().info("link {}: catch-up of {} records starts", c->peer->name, ctx_.table.size());
  c->catching_up = true;
  c->catchup_draining = false;
  c->next_stripe = 0;
  c->cursor = {};
  c->catchup_records = 0;
  c->catchup_start_ms = uv_now(loop_);
  want_write(c);
}

void Links::refill_catchup(Conn* c) {
  std::vector<RecordRef> recs;
  while (c->catching_up && c->queued_bytes < kCatchupLowWater) {
    if (c->next_stripe == ClientTable::kStripes) {
      c->catching_up = false;
      c->catchup_draining = true;
      log().info("link {}: catch-up queued all {} records in {} ms", c->peer->name,
                 c->catchup_records, uv_now(loop_) - c->catchup_start_ms);
      break;
    }
    recs.clear();
    if (ctx_.table.snapshot_stripe(c->next_stripe, c->cursor, kCatchupChunk, recs)) {
      ++c->next_stripe;
      c->cursor = {};
    }
    for (auto& r : recs) {
      c->queued_bytes += r->line_nl().size();
      c->catchup.push_back(std::move(r));
    }
    c->catchup_records += recs.size();
  }
}

void Links::kick(Conn* c) {
  if (c->closing) return;
  if (c->state == Conn::State::up && c->catching_up) refill_catchup(c);
  // Over TLS, lines wait until the handshake is done; its own messages go at once.
  const bool lines_wait = c->tls && !c->tls->established();
  const bool tls_output = c->tls && c->tls->has_output();
  const bool lines = !c->control.empty() || !c->floods.empty() || !c->catchup.empty();
  if ((!lines || lines_wait) && !tls_output) {
    if (c->writes_in_flight != 0 || lines) return;
    if (c->catchup_draining && c->state == Conn::State::up) {
      c->catchup_draining = false;
      log().info("link {}: catch-up sent {} records in {} ms", c->peer->name, c->catchup_records,
                 uv_now(loop_) - c->catchup_start_ms);
    }
    if (c->draining) {
      close_conn(c, c->drain_reason                   ? c->drain_reason
                    : c->state == Conn::State::waking ? "wake-up sent"
                    : releasing_                      ? "server stopping"
                                                      : "handshake refused");
    }
    return;
  }
  // Catch-up streams one write at a time; new records and handshake lines go at once.
  if (!tls_output && c->writes_in_flight != 0 && c->control.empty() && c->floods.empty()) return;
  auto* w = new LinkWrite;
  w->conn = c;
  c->iov.clear();
  if (!lines_wait) {
    w->control.swap(c->control);
    if (!w->control.empty()) {
      c->iov.push_back(uv_buf_init(w->control.data(), static_cast<unsigned>(w->control.size())));
    }
    // New records first: a client asking a neighbour right after its reply should find its
    // record there even while a big catch-up is streaming.
    for (auto* q : {&c->floods, &c->catchup}) {
      if (q == &c->catchup && c->writes_in_flight != 0) break;
      while (!q->empty() && c->iov.size() < kMaxIov) {
        RecordRef r = std::move(q->front());
        q->pop_front();
        std::string_view text = r->line_nl();
        log_batch_.link_traffic(c->who(), '>', r->line());
        c->iov.push_back(
            uv_buf_init(const_cast<char*>(text.data()), static_cast<unsigned>(text.size())));
        w->rec_bytes += text.size();
        w->recs.push_back(std::move(r));
      }
    }
  }
  if (c->tls) {
    // The plaintext is encrypted into one buffer the write owns.
    if (!c->iov.empty()) {
      std::vector<std::string_view> parts;
      parts.reserve(c->iov.size());
      for (const uv_buf_t& b : c->iov) parts.emplace_back(b.base, b.len);
      if (c->tls->write(parts.data(), parts.size()) == TlsChannel::Status::failed) {
        log().warn("link {} ({}): TLS write failed: {}", c->who(), c->remote, c->tls->error());
        c->queued_bytes -= w->rec_bytes;
        delete w;
        close_conn(c, "TLS error: " + c->tls->error());
        return;
      }
      w->recs.clear();
      w->control.clear();
    }
    c->tls->take_output(w->cipher);
    c->iov.assign(1, uv_buf_init(w->cipher.data(), static_cast<unsigned>(w->cipher.size())));
  }
  // With nothing in flight, the socket usually takes the whole write at once:
  // uv_try_write sends it without a write request (no completion on the next pass, no
  // epoll_ctl to re-arm the descriptor); uv_write gets only what it did not take.
  auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
  std::size_t first = 0;
  if (c->writes_in_flight == 0) {
    int sent = uv_try_write(stream, c->iov.data(), static_cast<unsigned>(c->iov.size()));
    if (sent == UV_EAGAIN) sent = 0;
    if (sent < 0) {
      c->queued_bytes -= w->rec_bytes;
      delete w;
      close_conn(c, std::string("write: ") + uv_strerror(sent));
      return;
    }
    auto skip = static_cast<std::size_t>(sent);
    while (first < c->iov.size() && skip >= c->iov[first].len) skip -= c->iov[first++].len;
    if (first == c->iov.size()) {
      // Done, as on_write would find it; the next write (catch-up continues one write
      // at a time) on the next pass, not by recursion.
      c->queued_bytes -= w->rec_bytes;
      delete w;
      want_write(c);
      return;
    }
    c->iov[first].base += skip;
    c->iov[first].len -= static_cast<unsigned>(skip);
  }
  w->req.data = w;
  int rc = uv_write(&w->req, stream, c->iov.data() + first,
                    static_cast<unsigned>(c->iov.size() - first), on_write);
  if (rc != 0) {
    c->queued_bytes -= w->rec_bytes;
    delete w;
    close_conn(c, std::string("write: ") + uv_strerror(rc));
    return;
  }
  ++c->writes_in_flight;
  // More floods than one write takes: another pass.
  if (!c->floods.empty()) want_write(c);
}

void Links::on_write(uv_write_t* req, int status) {
  auto* w = static_cast<LinkWrite*>(req->data);
  Conn* c = w->conn;
  Links* L = c->links;
  --c->writes_in_flight;
  c->queued_bytes -= w->rec_bytes;
  delete w;
  if (c->closing) {
    L->maybe_done();
    return;
  }
  if (status != 0) {
    L->close_conn(c, std::string("write: ") + uv_strerror(status));
    return;
  }
  L->kick(c);
}

}  // namespace herd
