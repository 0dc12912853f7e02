#include "server/session.hpp"

#include <time.h>

#include <algorithm>

#include "core/message.hpp"
#include "core/places_json.hpp"
#include "core/record.hpp"
#include "core/tls_channel.hpp"
#include "server/links.hpp"
#include "server/links_entry.hpp"
#include "server/logging.hpp"
#include "server/worker.hpp"

namespace herd {
namespace {

// Reading pauses while this many reply bytes are owed, and resumes under the low mark.
constexpr std::size_t kHighWaterBytes = 4 * 1024 * 1024;
constexpr std::size_t kLowWaterBytes = 1024 * 1024;
constexpr std::size_t kKeepCapacityBytes = 256 * 1024;
// A connection parses at most this many lines, or until its lines produced this many reply
// bytes, before the loop serves others (a read of 64 KiB can hold thousands of WHATSAT
// lines, each a few KiB of reply); the rest waits one loop pass.
constexpr int kLinesPerTurn = 128;
constexpr std::size_t kReplyBytesPerTurn = 64 * 1024;
// Reading pauses while this many WHATSAT lookups of the connection are outstanding.
constexpr std::size_t kMaxLookupsPerSession = 64;
// A TLS client that has not finished its handshake by then is closed.
constexpr std::uint64_t kTlsHandshakeTimeoutMs = 10000;

Timestamp wall_clock_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return Timestamp{static_cast<std::int64_t>(ts.tv_sec), static_cast<std::uint32_t>(ts.tv_nsec)};
}

std::string peer_name(uv_tcp_t* tcp) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char ip[64] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, ip, sizeof ip);
    port = ntohs(a->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  uv_ip6_name(a, ip, sizeof ip);
  port = ntohs(a->sin6_port);
  return "[" + std::string(ip) + "]:" + std::to_string(port);
}

}  // namespace

Session::Session(Worker& w)
    : w_(w),
      id_(w.ctx().next_connection_id.fetch_add(1)),
      splitter_(w.ctx().config->max_line_bytes),
      replies_(w.block_pool()) {}

Session* Session::create(Worker& w, SSL_CTX* tls_ctx) {
  auto* s = new Session(w);
  uv_tcp_init(w.loop(), &s->tcp_);  // cannot fail for an AF_UNSPEC handle on a live loop
  s->tcp_.data = s;
  if (tls_ctx) s->tls_ = std::make_unique<TlsChannel>(tls_ctx, TlsChannel::Role::server);
  w.add_session(s);
  return s;
}

Session::~Session() = default;

void Session::start() {
  peer_ = peer_name(&tcp_);
  last_active_ms_ = opened_ms_ = uv_now(w_.loop());
  uv_tcp_nodelay(&tcp_, 1);
  w_.log_batch().line("info", "client " + std::to_string(id_) + " open from " + peer_ +
                                  " on worker " + std::to_string(w_.index()) +
                                  (tls_ ? " (TLS port)" : ""));
  w_.ctx().metrics->connections_opened.fetch_add(1, std::memory_order_relaxed);
  w_.ctx().metrics->connections_open.fetch_add(1, std::memory_order_relaxed);
  counted_open_ = true;
  if (tls_ && !tls_->valid()) {
    log().error("client {}: {}", id_, tls_->error());
    close_now("TLS error");
    return;
  }
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read);
  if (rc != 0) {
    close_now(uv_strerror(rc));
    return;
  }
  reading_ = true;
  if (w_.stopping()) drain();
}

void Session::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* s = static_cast<Session*>(h->data);
  buf->base = s->w_.read_buffer();
  buf->len = s->w_.read_buffer_size();
}

void Session::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* s = static_cast<Session*>(stream->data);
  if (nread == 0 || s->closing_) return;
  try {
    if (nread > 0) {
      s->receive(buf->base, static_cast<std::size_t>(nread));
      return;
    }
    if (nread == UV_EOF) {
      s->end_of_input();
      return;
    }
    s->close_now(uv_strerror(static_cast<int>(nread)));
  } catch (const std::exception& e) {
    log().error("client {}: {}", s->id_, e.what());
    s->close_now("internal error");
  }
}

void Session::receive(const char* data, std::size_t len) {
  now_ = wall_clock_now();
  lines_this_turn_ = 0;
  owed_at_turn_start_ = replies_.owed_bytes();
  auto on_line = [this](std::string_view line) { return handle_line(line); };
  if (!seen_input_) {
    seen_input_ = true;
    // On the client port of a TLS herd, a connection that opens with a TLS handshake
    // record is a neighbour's link (PROTOCOL.md section 11).
    ServerContext& ctx = w_.ctx();
    if (!tls_ && ctx.tls && opens_tls_record(data[0]) &&
        hand_over_tls_to_links(ctx, &tcp_, std::string_view(data, len), peer_)) {
      close_now("TLS link handed over to the link layer");
      return;
    }
  }
  if (!tls_) {
    w_.lookahead().scan(std::string_view(data, len));
    const FeedResult r = splitter_.feed(data, len, on_line);
    w_.lookahead().forget();
    after_input(r);
    return;
  }
  std::string& plain = w_.tls_plain_buffer();
  plain.clear();
  const bool was_established = tls_->established();
  const TlsChannel::Status st = tls_->feed(data, len, plain);
  if (tls_->has_output()) w_.mark_dirty(this);
  if (st == TlsChannel::Status::failed) {
    w_.log_batch().line("warning", "client " + std::to_string(id_) + " (" + peer_ + "): TLS " +
                                       (was_established ? "error" : "handshake failed") + ": " +
                                       tls_->error());
    w_.ctx().metrics->tls_failures_client.fetch_add(1, std::memory_order_relaxed);
    close_now("TLS error");
    return;
  }
  if (!was_established && tls_->established()) {
    w_.log_batch().line("info", "client " + std::to_string(id_) + ": TLS established (" +
                                    tls_->description() + ")");
  }
  if (!plain.empty()) {
    w_.lookahead().scan(plain);
    const FeedResult r = splitter_.feed(plain.data(), plain.size(), on_line);
    w_.lookahead().forget();
    after_input(r);
  }
  if (st == TlsChannel::Status::closed && !closing_ && !read_closed_) {
    // close_notify is the end of input, after the lines held by back-pressure if any.
    if (input_paused_) {
      tls_eof_pending_ = true;
    } else {
      end_of_input();
    }
  }
}

void Session::end_of_input() {
  now_ = wall_clock_now();
  pause_reading();
  read_closed_ = true;
  if (!splitter_.finish([this](std::string_view line) { return handle_line(line); })) {
    w_.log_batch().line("warning", "client " + std::to_string(id_) + ": final line longer than " +
                                       std::to_string(w_.ctx().config->max_line_bytes) + " bytes");
  }
  w_.log_batch().line("info", "client " + std::to_string(id_) + ": end of input after " +
                                  std::to_string(lines_) + " lines");
  after_input(FeedResult::ok);
}

void Session::after_input(FeedResult r) {
  if (closing_) return;
  if (r == FeedResult::too_long) {
    w_.ctx().metrics->lines_too_long.fetch_add(1, std::memory_order_relaxed);
    w_.log_batch().line("warning", "client " + std::to_string(id_) + ": line longer than " +
                                       std::to_string(w_.ctx().config->max_line_bytes) +
                                       " bytes; closing after owed replies");
    pause_reading();
    read_closed_ = true;
  } else if (r == FeedResult::stopped) {
    return;  // the connection was handed over; this session is closing
  } else if (r == FeedResult::paused) {
    pause_reading();
    input_paused_ = true;
  }
  if (replies_.has_ready()) w_.mark_dirty(this);
  maybe_close();
}

void Session::maybe_resume() {
  if (!input_paused_ || closing_) return;
  if (replies_.owed_bytes() >= kLowWaterBytes || lookups_in_flight_ > kMaxLookupsPerSession / 2)
    return;
  resume_input();
}

void Session::resume_after_yield() {
  // A yield is not back-pressure: resume now unless the owed replies or lookups are high
  // (then on_write or a lookup's completion resumes it).
  if (!input_paused_ || closing_) return;
  if (replies_.owed_bytes() > kHighWaterBytes || lookups_in_flight_ >= kMaxLookupsPerSession)
    return;
  resume_input();
}

void Session::resume_input() {
  input_paused_ = false;
  now_ = wall_clock_now();
  lines_this_turn_ = 0;
  owed_at_turn_start_ = replies_.owed_bytes();
  w_.lookahead().scan(splitter_.held());
  FeedResult r = splitter_.resume([this](std::string_view line) { return handle_line(line); });
  w_.lookahead().forget();
  if (r == FeedResult::ok && !closing_ && !read_closed_ && tls_eof_pending_) {
    tls_eof_pending_ = false;
    end_of_input();
    return;
  }
  if (r == FeedResult::ok && !closing_ && !read_closed_) {
    int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read);
    if (rc != 0) {
      close_now(uv_strerror(rc));
      return;
    }
    reading_ = true;
  }
  after_input(r);
}

LineAction Session::handle_line(std::string_view line) {
  if (closing_) return LineAction::stop;
  if (w_.stopping() && w_.grace_over()) {
    close_now("shutdown grace period over");  // lines read but not yet parsed are dropped
    return LineAction::stop;
  }
  ++lines_;
  last_active_ms_ = uv_now(w_.loop());
  w_.log_batch().client_traffic(id_, '<', line, &now_);
  Message m = parse_message(line);
  ServerContext& ctx = w_.ctx();
  switch (m.kind) {
    case MessageKind::blank:
      ctx.metrics->lines_blank.fetch_add(1, std::memory_order_relaxed);
      return LineAction::go;
    case MessageKind::iamat: {
      ctx.metrics->lines_iamat.fetch_add(1, std::memory_order_relaxed);
      RecordRef rec = RecordRef::from_iamat(ctx.self->name, now_, m);
      if (ctx.table.offer(rec, w_.lookahead().hash(m.client_id), m.client_time)) {
        ctx.metrics->records_stored.fetch_add(1, std::memory_order_relaxed);
        hold_epoch_ = std::max(hold_epoch_, w_.flood(rec));
      }
      reply(rec->line_nl());
      break;
    }
    case MessageKind::whatsat:
      ctx.metrics->lines_whatsat.fetch_add(1, std::memory_order_relaxed);
      handle_whatsat(line, m);
      break;
    case MessageKind::at:
    case MessageKind::invalid:
      if (lines_ == 1 && ctx.tls && !tls_ && (is_link_hello(line) || is_link_wake(line))) {
        // Links of a TLS herd run over TLS only (PROTOCOL.md section 11).
        w_.log_batch().line("warning", "client " + std::to_string(id_) + " (" + peer_ +
                                           "): plaintext link handshake refused (this herd's "
                                           "links use TLS): " +
                                           std::string(for_log(line.substr(0, 200))));
        close_now("plaintext link handshake refused");
        return LineAction::stop;
      }
      if (lines_ == 1 && ctx.links && !tls_) {
        if (is_link_hello(line) && hand_over_to_links(ctx, &tcp_, line, peer_)) {
          // The link layer now owns the socket (a duplicate of it); this session ends.
          close_now("handed over to the link layer");
          return LineAction::stop;
        }
        if (is_link_wake(line)) {
          ctx.links->post_wake(std::string(line), peer_);
          close_now("wake-up passed to the link layer");
          return LineAction::stop;
        }
      }
      ctx.metrics->lines_invalid.fetch_add(1, std::memory_order_relaxed);
      reply_invalid(line);
      break;
  }
  // Back-pressure, line by line (PROTOCOL.md section 10).
  if (replies_.owed_bytes() > kHighWaterBytes || lookups_in_flight_ >= kMaxLookupsPerSession)
    return LineAction::pause;
  if (++lines_this_turn_ >= kLinesPerTurn ||
      replies_.owed_bytes() >= owed_at_turn_start_ + kReplyBytesPerTurn) {
    w_.resume_next_pass(this);
    return LineAction::pause;
  }
  return LineAction::go;
}

void Session::handle_whatsat(std::string_view line, const Message& m) {
  RecordRef rec = w_.ctx().table.find(m.client_id, w_.lookahead().hash(m.client_id));
  auto loc = rec ? parse_location(rec->location_text()) : std::nullopt;
  if (!loc) {
    if (rec)
      log().error("client {}: stored location does not parse: {}", id_, for_log(rec->line()));
    reply_invalid(line);
    return;
  }
  PlacesQuery q{*loc, rec->location_text(), m.radius_km, m.bound};
  std::string json;
  const std::uint64_t sid = id_;
  Worker* w = &w_;
  // Reserve the reply's place first; a synchronous answer fills it at once.
  ReplyQueue::Slot slot = replies_.reserve();
  ++lookups_in_flight_;
  const std::uint64_t started_ns = uv_hrtime();
  auto finish = [w, sid, slot, rec, started_ns](std::string answer) {
    w->ctx().metrics->count_lookup(json_status_word(answer), (uv_hrtime() - started_ns) / 1000);
    Session* s = w->find_session(sid);
    if (!s) return;  // the client went away
    std::string text;
    text.reserve(rec->line_nl().size() + answer.size() + 2);
    text.append(rec->line_nl());
    append_normalized_json(text, answer);
    text.append("\n\n");
    --s->lookups_in_flight_;
    s->w_.ctx().metrics->replies.fetch_add(1, std::memory_order_relaxed);
    w->log_batch().client_traffic(sid, '>', std::string_view(text).substr(0, text.size() - 1));
    s->replies_.fill(slot, std::move(text));
    if (!s->closing_) {
      s->w_.mark_dirty(s);
      s->maybe_resume();
      s->maybe_close();
    }
  };
  if (w_.provider().lookup(q, json, finish)) finish(std::move(json));
}

void Session::reply(std::string_view text) {
  w_.ctx().metrics->replies.fetch_add(1, std::memory_order_relaxed);
  replies_.append(text);
  w_.log_batch().client_traffic(id_, '>', text.substr(0, text.size() - 1), &now_);
}

void Session::reply_invalid(std::string_view line) {
  w_.ctx().metrics->answered_invalid.fetch_add(1, std::memory_order_relaxed);
  std::string text;
  text.reserve(line.size() + 3);
  text.append("? ").append(line).push_back('\n');
  reply(text);
}

void Session::flush() {
  if (closing_ || write_in_flight_) return;
  if (tls_) {
    flush_tls();
    return;
  }
  if (!replies_.has_ready()) return;
  if (!w_.may_write(this, hold_epoch_)) return;  // the flood goes first (PROTOCOL.md 6)
  // Every ready reply in one write, straight from the queue's blocks.
  std::vector<std::string_view>& parts = w_.scratch_parts();
  parts.clear();
  plain_in_flight_ = replies_.take_ready(parts);
  if (plain_in_flight_ == 0) {
    replies_.release_taken();
    return;
  }
  std::vector<uv_buf_t>& bufs = w_.scratch_bufs();
  bufs.clear();
  for (std::string_view p : parts)
    bufs.push_back(uv_buf_init(const_cast<char*>(p.data()), static_cast<unsigned>(p.size())));
  // Most writes are taken whole by the socket at once: uv_try_write sends them without a
  // write request, so there is no completion to run on the next pass and no epoll_ctl
  // (libuv 1.44 re-arms the descriptor after every completed uv_write: one more system
  // call per write). What the socket does not take goes through uv_write.
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  int sent = uv_try_write(stream, bufs.data(), static_cast<unsigned>(bufs.size()));
  if (sent == UV_EAGAIN) sent = 0;
  if (sent < 0) {
    replies_.written(plain_in_flight_);
    replies_.release_taken();
    close_now(uv_strerror(sent));
    return;
  }
  if (static_cast<std::size_t>(sent) == plain_in_flight_) {
    write_in_flight_ = true;  // for the bookkeeping write_done shares with on_write
    write_done(0, false);
    return;
  }
  // Skip what was sent: whole buffers, then the start of the first one left.
  std::size_t skip = static_cast<std::size_t>(sent), first = 0;
  while (skip >= bufs[first].len) skip -= bufs[first++].len;
  bufs[first].base += skip;
  bufs[first].len -= static_cast<unsigned>(skip);
  write_req_.data = this;
  // uv_write copies the buffer list; the bytes stay in the queue until on_write.
  int rc = uv_write(&write_req_, stream, bufs.data() + first,
                    static_cast<unsigned>(bufs.size() - first), on_write);
  if (rc != 0) {
    replies_.written(plain_in_flight_);
    replies_.release_taken();
    close_now(uv_strerror(rc));
    return;
  }
  write_in_flight_ = true;
}

void Session::flush_tls() {
  // Handshake messages and alerts go whenever there are some; replies once established
  // and their floods are out, encrypted into one buffer.
  plain_in_flight_ = 0;
  if (tls_->established() && replies_.has_ready() && w_.may_write(this, hold_epoch_)) {
    std::vector<std::string_view>& parts = w_.scratch_parts();
    parts.clear();
    plain_in_flight_ = replies_.take_ready(parts);
    const TlsChannel::Status st = tls_->write(parts.data(), parts.size());
    replies_.release_taken();  // encrypted (copied) or given up
    if (st == TlsChannel::Status::failed) {
      replies_.written(plain_in_flight_);
      w_.log_batch().line("warning",
                          "client " + std::to_string(id_) + ": TLS error: " + tls_->error());
      close_now("TLS error");
      return;
    }
  }
  if (!tls_->has_output()) {
    replies_.written(plain_in_flight_);
    plain_in_flight_ = 0;
    return;
  }
  writing_.clear();
  tls_->take_output(writing_);
  uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  write_req_.data = this;
  int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, on_write);
  if (rc != 0) {
    replies_.written(plain_in_flight_);
    close_now(uv_strerror(rc));
    return;
  }
  write_in_flight_ = true;
}

void Session::on_write(uv_write_t* req, int status) {
  static_cast<Session*>(req->data)->write_done(status, true);
}

void Session::write_done(int status, bool from_callback) {
  write_in_flight_ = false;
  replies_.written(plain_in_flight_);
  if (!tls_) replies_.release_taken();
  plain_in_flight_ = 0;
  writing_.clear();
  // A burst's buffer is not kept for the connection's lifetime.
  if (writing_.capacity() > kKeepCapacityBytes) std::string().swap(writing_);
  if (status != 0) {
    if (!closing_) close_now(uv_strerror(status));
    return;
  }
  if (closing_) return;
  last_active_ms_ = uv_now(w_.loop());
  maybe_resume();
  if (closing_) return;
  if (replies_.has_ready() || (tls_ && tls_->has_output())) {
    // Written at once inside flush: the rest goes on the next pass, not by recursion.
    if (from_callback) {
      flush();
    } else {
      w_.mark_dirty(this);
    }
  } else {
    maybe_close();
  }
}

bool Session::tls_handshake_overdue(std::uint64_t now_ms) const {
  return tls_ && !tls_->established() && now_ms >= opened_ms_ + kTlsHandshakeTimeoutMs;
}

std::uint64_t Session::idle_since(std::uint64_t now_ms) const {
  if (lookups_in_flight_ != 0 || now_ms < last_active_ms_) return 0;
  return now_ms - last_active_ms_;
}

void Session::pause_reading() {
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void Session::drain() {
  if (closing_) return;
  // Nothing more is read; lines already read (held by back-pressure or a yield) are still
  // answered, within the shutdown grace period.
  pause_reading();
  read_closed_ = true;
  maybe_close();
}

void Session::maybe_close() {
  if (closing_ || !read_closed_ || input_paused_ || write_in_flight_ || !replies_.empty() ||
      lookups_in_flight_ != 0)
    return;
  if (tls_ && tls_->established() && !tls_shut_) {
    // Every reply is written: close_notify goes last, then the connection closes.
    tls_shut_ = true;
    tls_->shutdown();
    flush();
    if (write_in_flight_ || closing_) return;
  }
  close_now("done");
}

void Session::close_now(const char* reason) {
  if (closing_) return;
  closing_ = true;
  w_.log_batch().line("info", "client " + std::to_string(id_) + " closed: " + reason);
  if (counted_open_) w_.ctx().metrics->connections_open.fetch_sub(1, std::memory_order_relaxed);
  w_.ctx().client_connections.fetch_sub(1, std::memory_order_relaxed);
  w_.remove_session(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
}

void Session::on_close(uv_handle_t* h) {
  delete static_cast<Session*>(h->data);
}

}  // namespace herd
