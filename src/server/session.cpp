#include "server/session.hpp"

#include <time.h>

#include "core/message.hpp"
#include "core/places_json.hpp"
#include "core/record.hpp"
#include "server/links_entry.hpp"
#include "server/logging.hpp"
#include "server/worker.hpp"

namespace herd {
namespace {

// Reading pauses while this many reply bytes are unwritten, and resumes under the low mark.
constexpr std::size_t kHighWaterBytes = 4 * 1024 * 1024;
constexpr std::size_t kLowWaterBytes = 1024 * 1024;

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
      splitter_(w.ctx().config->max_line_bytes) {}

Session* Session::create(Worker& w) {
  auto* s = new Session(w);
  uv_tcp_init(w.loop(), &s->tcp_);  // cannot fail for an AF_UNSPEC handle on a live loop
  s->tcp_.data = s;
  w.add_session(s);
  return s;
}

void Session::start() {
  peer_ = peer_name(&tcp_);
  uv_tcp_nodelay(&tcp_, 1);
  w_.log_batch().line("info", "client " + std::to_string(id_) + " open from " + peer_ +
                                  " on worker " + std::to_string(w_.index()));
  w_.ctx().metrics->connections_opened.fetch_add(1, std::memory_order_relaxed);
  w_.ctx().metrics->connections_open.fetch_add(1, std::memory_order_relaxed);
  counted_open_ = true;
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
      s->now_ = wall_clock_now();
      FeedResult r = s->splitter_.feed(buf->base, static_cast<std::size_t>(nread),
                                       [s](std::string_view line) { return s->handle_line(line); });
      if (r == FeedResult::too_long) {
        s->w_.ctx().metrics->lines_too_long.fetch_add(1, std::memory_order_relaxed);
        s->w_.log_batch().line("warning", "client " + std::to_string(s->id_) +
                                              ": line longer than " +
                                              std::to_string(s->w_.ctx().config->max_line_bytes) +
                                              " bytes; closing after owed replies");
        s->pause_reading();
        s->read_closed_ = true;
      } else if (r == FeedResult::stopped) {
        return;  // the connection was handed over; this session is closing
      }
    } else if (nread == UV_EOF) {
      s->now_ = wall_clock_now();
      s->pause_reading();
      s->read_closed_ = true;
      if (!s->splitter_.finish([s](std::string_view line) { return s->handle_line(line); })) {
        s->w_.log_batch().line("warning",
                               "client " + std::to_string(s->id_) + ": final line longer than " +
                                   std::to_string(s->w_.ctx().config->max_line_bytes) + " bytes");
      }
      s->w_.log_batch().line("info", "client " + std::to_string(s->id_) + ": end of input after " +
                                         std::to_string(s->lines_) + " lines");
    } else {
      s->close_now(uv_strerror(static_cast<int>(nread)));
      return;
    }
  } catch (const std::exception& e) {
    log().error("client {}: {}", s->id_, e.what());
    s->close_now("internal error");
    return;
  }
  if (s->replies_.has_ready()) {
    s->w_.mark_dirty(s);
    if (s->replies_.ready_size() + s->writing_.size() > kHighWaterBytes) {
      s->pause_reading();
      s->paused_for_output_ = !s->read_closed_;
    }
  }
  s->maybe_close();
}

bool Session::handle_line(std::string_view line) {
  if (closing_) return false;
  ++lines_;
  w_.log_batch().client_traffic(id_, '<', line);
  Message m = parse_message(line);
  ServerContext& ctx = w_.ctx();
  switch (m.kind) {
    case MessageKind::blank:
      ctx.metrics->lines_blank.fetch_add(1, std::memory_order_relaxed);
      return true;
    case MessageKind::iamat: {
      ctx.metrics->lines_iamat.fetch_add(1, std::memory_order_relaxed);
      RecordRef rec = RecordRef::from_iamat(ctx.self->name, now_, m);
      if (ctx.table.offer(rec)) {
        ctx.metrics->records_stored.fetch_add(1, std::memory_order_relaxed);
        flood_record(ctx, rec);
      }
      reply(rec->line_nl());
      return true;
    }
    case MessageKind::whatsat: {
      ctx.metrics->lines_whatsat.fetch_add(1, std::memory_order_relaxed);
      RecordRef rec = ctx.table.find(m.client_id);
      if (!rec) {
        reply_invalid(line);
        return true;
      }
      auto loc = parse_location(rec->location_text());
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
        s->replies_.fill(slot, text);
        w->log_batch().client_traffic(sid, '>', std::string_view(text).substr(0, text.size() - 1));
        if (!s->closing_) {
          s->w_.mark_dirty(s);
          s->maybe_close();
        }
      };
      if (w_.provider().lookup(q, json, finish)) finish(std::move(json));
      return true;
    }
    case MessageKind::at:
    case MessageKind::invalid:
      if (lines_ == 1 && is_link_hello(line) && hand_over_to_links(ctx, &tcp_, line, peer_)) {
        // The link layer now owns the socket (a duplicate of it); this session ends.
        close_now("handed over to the link layer");
        return false;
      }
      ctx.metrics->lines_invalid.fetch_add(1, std::memory_order_relaxed);
      reply_invalid(line);
      return true;
  }
  return true;
}

void Session::reply(std::string_view text) {
  w_.ctx().metrics->replies.fetch_add(1, std::memory_order_relaxed);
  replies_.append(text);
  w_.log_batch().client_traffic(id_, '>', text.substr(0, text.size() - 1));
}

void Session::reply_invalid(std::string_view line) {
  w_.ctx().metrics->answered_invalid.fetch_add(1, std::memory_order_relaxed);
  std::string text;
  text.reserve(line.size() + 3);
  text.append("? ").append(line).push_back('\n');
  reply(text);
}

void Session::flush() {
  if (closing_ || write_in_flight_ || !replies_.has_ready()) return;
  replies_.take_ready(writing_);
  uv_buf_t buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  write_req_.data = this;
  int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, on_write);
  if (rc != 0) {
    close_now(uv_strerror(rc));
    return;
  }
  write_in_flight_ = true;
}

void Session::on_write(uv_write_t* req, int status) {
  auto* s = static_cast<Session*>(req->data);
  s->write_in_flight_ = false;
  if (status != 0) {
    if (!s->closing_) s->close_now(uv_strerror(status));
    return;
  }
  if (s->closing_) return;
  if (s->paused_for_output_ && s->replies_.ready_size() < kLowWaterBytes) {
    s->paused_for_output_ = false;
    if (!s->read_closed_ &&
        uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp_), on_alloc, on_read) == 0) {
      s->reading_ = true;
    }
  }
  if (s->replies_.has_ready()) {
    s->flush();
  } else {
    s->maybe_close();
  }
}

void Session::pause_reading() {
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void Session::drain() {
  if (closing_) return;
  pause_reading();
  paused_for_output_ = false;
  read_closed_ = true;
  maybe_close();
}

void Session::maybe_close() {
  if (closing_ || !read_closed_ || write_in_flight_ || !replies_.empty() || lookups_in_flight_ != 0)
    return;
  close_now("done");
}

void Session::close_now(const char* reason) {
  if (closing_) return;
  closing_ = true;
  w_.log_batch().line("info", "client " + std::to_string(id_) + " closed: " + reason);
  if (counted_open_) w_.ctx().metrics->connections_open.fetch_sub(1, std::memory_order_relaxed);
  w_.remove_session(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
}

void Session::on_close(uv_handle_t* h) {
  delete static_cast<Session*>(h->data);
}

}  // namespace herd
