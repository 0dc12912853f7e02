#include "server/admin.hpp"

#include <unistd.h>

#include "core/admin_request.hpp"
#include "core/prometheus.hpp"
#include "core/record_pool.hpp"
#include "server/links.hpp"
#include "server/listener.hpp"
#include "server/logging.hpp"
#include "server/nats_backbone.hpp"

namespace herd {
namespace {
constexpr std::uint64_t kUnhealthyLagUs = 1'000'000;
}  // namespace

struct Admin::Conn {
  Admin* admin;
  uv_tcp_t tcp{};
  uv_write_t write_req{};
  std::string in, out;
  std::size_t scanned = 0;  // how far parse_admin_request has looked
  std::uint64_t opened_ms = 0;
  std::list<Conn*>::iterator pos;
  bool closing = false;
};

bool Admin::bind(std::string* error) {
  fd_ = open_listen_socket(ctx_.self->admin_host, ctx_.self->admin_port, false, error);
  return fd_ >= 0;
}

bool Admin::start(uv_loop_t* loop, std::string* error) {
  loop_ = loop;
  const ServerConfig& self = *ctx_.self;
  int rc = uv_timer_init(loop, &sweep_);
  if (rc == 0) {
    sweep_.data = this;
    ++open_handles_;
    rc = uv_timer_start(&sweep_, on_sweep, 1000, 1000);
  }
  if (rc == 0) rc = uv_tcp_init(loop, &listener_);
  if (rc == 0) {
    listener_.data = this;
    listening_ = true;
    ++open_handles_;
    rc = uv_tcp_open(&listener_, fd_);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, on_connection);
  }
  if (rc != 0) {
    *error = std::string("admin listener: ") + uv_strerror(rc);
    return false;
  }
  log().info("admin listener on {} port {} (/healthz, /metrics)", self.admin_host, self.admin_port);
  return true;
}

void Admin::on_connection(uv_stream_t* server, int status) {
  auto* a = static_cast<Admin*>(server->data);
  if (status < 0 || a->stopping_) return;
  auto* c = new Conn;
  c->admin = a;
  c->opened_ms = uv_now(a->loop_);
  uv_tcp_init(a->loop_, &c->tcp);  // cannot fail for an AF_UNSPEC handle on a live loop
  c->tcp.data = c;
  ++a->open_handles_;
  c->pos = a->conns_.insert(a->conns_.end(), c);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    a->close_conn(c);
    return;
  }
  // Over the cap, the oldest connection makes room: a flood of idle connections cannot
  // lock the health check out for longer than it takes to open new ones.
  if (a->conns_.size() > kMaxConns) a->close_conn(a->conns_.front());
  int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, std::size_t, uv_buf_t* b) {
        static thread_local char block[4096];
        b->base = block;
        b->len = sizeof block;
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* b) {
        auto* cc = static_cast<Conn*>(s->data);
        if (cc->closing || nread == 0) return;
        if (nread < 0) {
          cc->admin->close_conn(cc);
          return;
        }
        cc->in.append(b->base, static_cast<std::size_t>(nread));
        AdminRequest r = parse_admin_request(cc->in, cc->scanned);
        if (r.state == AdminRequest::State::complete) {
          uv_read_stop(s);
          cc->admin->handle(cc);
        } else if (r.state == AdminRequest::State::too_long) {
          cc->admin->close_conn(cc);
        }
      });
  if (rc != 0) a->close_conn(c);
}

void Admin::on_sweep(uv_timer_t* h) {
  auto* a = static_cast<Admin*>(h->data);
  const std::uint64_t now = uv_now(a->loop_);
  while (!a->conns_.empty() && now - a->conns_.front()->opened_ms >= kRequestTimeoutMs)
    a->close_conn(a->conns_.front());
}

std::string Admin::health_problem() const {
  if (ctx_.nats && !ctx_.nats->replayed())
    return "backbone: the first replay of the NATS bucket is not done yet";
  for (std::size_t i = 0; i < ctx_.metrics->loop_lag_us.size(); ++i) {
    const std::uint64_t lag = ctx_.metrics->loop_lag_us[i].load(std::memory_order_relaxed);
    if (lag > kUnhealthyLagUs)
      return "worker " + std::to_string(i) + " loop lags by " + std::to_string(lag / 1000) + " ms";
  }
  return {};
}

void Admin::handle(Conn* c) {
  std::size_t scanned = 0;
  AdminRequest req = parse_admin_request(c->in, scanned);
  const bool get = req.method == "GET";
  int code = 200;
  std::string body, type = "text/plain; charset=utf-8";
  if (get && req.target == "/healthz") {
    std::string problem = health_problem();
    if (problem.empty()) {
      body = "ok\n";
    } else {
      code = 503;
      body = problem + "\n";
    }
  } else if (get && req.target == "/metrics") {
    body = render_metrics();
    type = "text/plain; version=0.0.4; charset=utf-8";
  } else {
    code = 404;
    body = "not found: try /healthz or /metrics\n";
  }
  const char* reason = code == 200 ? "OK" : code == 503 ? "Service Unavailable" : "Not Found";
  c->out = "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
           body;
  uv_buf_t b = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
  c->write_req.data = c;
  if (uv_write(&c->write_req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1,
               [](uv_write_t* r, int) {
                 auto* cc = static_cast<Conn*>(r->data);
                 cc->admin->close_conn(cc);
               }) != 0) {
    close_conn(c);
  }
}

void Admin::close_conn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  conns_.erase(c->pos);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
    auto* cc = static_cast<Conn*>(h->data);
    Admin* a = cc->admin;
    delete cc;
    --a->open_handles_;
    a->maybe_done();
  });
}

void Admin::stop(std::function<void()> done) {
  done_ = std::move(done);
  stopping_ = true;
  while (!conns_.empty()) close_conn(conns_.front());
  auto on_closed = [](uv_handle_t* h) {
    auto* a = static_cast<Admin*>(h->data);
    --a->open_handles_;
    a->maybe_done();
  };
  if (listening_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), on_closed);
  } else if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = -1;
  if (sweep_.data) uv_close(reinterpret_cast<uv_handle_t*>(&sweep_), on_closed);
  maybe_done();
}

void Admin::maybe_done() {
  if (stopping_ && open_handles_ == 0 && done_) {
    auto d = std::move(done_);
    d();
  }
}

std::string Admin::render_metrics() const {
  const Metrics& m = *ctx_.metrics;
  auto v = [](const auto& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  PrometheusWriter w;
  w.family("herd_connections_opened_total", "counter", "Client connections accepted.");
  w.sample("herd_connections_opened_total", v(m.connections_opened));
  w.family("herd_connections_open", "gauge", "Client connections open now.");
  w.sample("herd_connections_open", v(m.connections_open));
  w.family("herd_connections_refused_total", "counter",
           "Client connections closed at once: max_connections reached.");
  w.sample("herd_connections_refused_total", v(m.connections_refused));
  w.family("herd_connections_idle_closed_total", "counter",
           "Client connections closed after idle_timeout_s.");
  w.sample("herd_connections_idle_closed_total", v(m.connections_idle_closed));
  w.family("herd_tls_failures_total", "counter",
           "Connections closed for a TLS failure (handshake, certificate, record, time-out).");
  w.sample("herd_tls_failures_total", v(m.tls_failures_link), {{"on", "link"}});
  w.sample("herd_tls_failures_total", v(m.tls_failures_client), {{"on", "client"}});
  if (ctx_.nats) {
    w.family("herd_backbone_connected", "gauge", "1 while connected to NATS.");
    w.sample("herd_backbone_connected", v(m.backbone_connected));
    w.family("herd_backbone_publishes_pending", "gauge",
             "Records waiting to be published to the bucket or for their acknowledgement.");
    w.sample("herd_backbone_publishes_pending", static_cast<double>(ctx_.nats->pending()));
    w.family("herd_backbone_publishes_acked_total", "counter",
             "Publishes the bucket acknowledged.");
    w.sample("herd_backbone_publishes_acked_total", v(m.backbone_acked));
    w.family("herd_backbone_publishes_failed_total", "counter",
             "Publishes that failed or timed out (each is published again).");
    w.sample("herd_backbone_publishes_failed_total", v(m.backbone_failed));
    w.family("herd_backbone_repairs_total", "counter",
             "Records republished because the bucket held an older one.");
    w.sample("herd_backbone_repairs_total", v(m.backbone_repairs));
    w.family("herd_backbone_received_total", "counter", "Records the bucket watcher delivered.");
    w.sample("herd_backbone_received_total", v(m.backbone_received));
    w.family("herd_backbone_watch_lag", "gauge", "Messages the bucket watcher has yet to deliver.");
    w.sample("herd_backbone_watch_lag", v(m.backbone_watch_lag));
  }
  w.family("herd_log_dropped_lines_total", "counter",
           "Log lines dropped because the log could not be written or fell behind.");
  w.sample("herd_log_dropped_lines_total", static_cast<double>(log_dropped_lines()));
  w.family("herd_lines_total", "counter", "Client lines received, by command.");
  w.sample("herd_lines_total", v(m.lines_iamat), {{"command", "IAMAT"}});
  w.sample("herd_lines_total", v(m.lines_whatsat), {{"command", "WHATSAT"}});
  w.sample("herd_lines_total", v(m.lines_invalid), {{"command", "invalid"}});
  w.sample("herd_lines_total", v(m.lines_blank), {{"command", "blank"}});
  w.family("herd_invalid_lines_total", "counter", "Client lines answered with '?'.");
  w.sample("herd_invalid_lines_total", v(m.answered_invalid));
  w.family("herd_too_long_lines_total", "counter", "Connections closed for an over-long line.");
  w.sample("herd_too_long_lines_total", v(m.lines_too_long));
  w.family("herd_replies_total", "counter", "Replies sent to clients.");
  w.sample("herd_replies_total", v(m.replies));
  w.family("herd_records", "gauge", "Client records held in the table.");
  w.sample("herd_records", static_cast<double>(ctx_.table.size()));
  w.family("herd_records_stored_total", "counter", "Newer records accepted (from IAMAT or links).");
  w.sample("herd_records_stored_total", v(m.records_stored));
  w.family("herd_record_pool_bytes", "gauge",
           "Bytes of the 2 MiB record regions taken into use (0: records come from operator new).");
  w.sample("herd_record_pool_bytes", static_cast<double>(record_pool::reserved_bytes()));
  w.family("herd_record_pool_regions_faulted_inline_total", "counter",
           "Record regions a server thread had to fault in itself (none was ready ahead).");
  w.sample("herd_record_pool_regions_faulted_inline_total",
           static_cast<double>(record_pool::regions_faulted_inline()));
  w.family("herd_link_up", "gauge", "1 if the link to a neighbour is up.");
  if (ctx_.links) {
    for (const auto& [name, up] : ctx_.links->link_states())
      w.sample("herd_link_up", up ? 1 : 0, {{"neighbor", name}});
  }
  w.family("herd_places_lookups_total", "counter", "WHATSAT places answers, by status word.");
  for (std::size_t i = 0; i < Metrics::kStatuses.size(); ++i) {
    w.sample("herd_places_lookups_total", v(m.lookups_by_status[i]),
             {{"status", std::string(Metrics::kStatuses[i])}});
  }
  w.family("herd_places_lookup_seconds", "histogram", "Time from WHATSAT to its places answer.");
  std::vector<double> bounds(Metrics::kLookupBoundsSeconds.begin(),
                             Metrics::kLookupBoundsSeconds.end());
  std::vector<std::uint64_t> counts;
  for (const auto& b : m.lookup_latency_buckets)
    counts.push_back(b.load(std::memory_order_relaxed));
  w.histogram("herd_places_lookup_seconds", bounds, counts, v(m.lookup_latency_sum_us) / 1e6);
  w.family("herd_loop_lag_seconds", "gauge",
           "How late each worker loop's 250 ms timer last fired.");
  for (std::size_t i = 0; i < m.loop_lag_us.size(); ++i) {
    w.sample("herd_loop_lag_seconds", v(m.loop_lag_us[i]) / 1e6, {{"worker", std::to_string(i)}});
  }
  w.family("herd_loop_pass_seconds", "histogram",
           "How long each loop pass kept its worker busy (all workers; the wait for I/O "
           "excluded).");
  std::vector<double> pass_bounds(Metrics::kPassBoundsSeconds.begin(),
                                  Metrics::kPassBoundsSeconds.end());
  std::vector<std::uint64_t> passes(pass_bounds.size() + 1, 0);
  double pass_sum = 0;
  for (const auto& l : m.loop_passes) {
    for (std::size_t b = 0; b < passes.size(); ++b) passes[b] += v(l.buckets[b]);
    pass_sum += v(l.sum_us) / 1e6;
  }
  w.histogram("herd_loop_pass_seconds", pass_bounds, passes, pass_sum);
  w.family("herd_loop_pass_max_seconds", "gauge",
           "The longest loop pass of each worker since the server started.");
  for (std::size_t i = 0; i < m.loop_passes.size(); ++i) {
    w.sample("herd_loop_pass_max_seconds", v(m.loop_passes[i].max_us) / 1e6,
             {{"worker", std::to_string(i)}});
  }
  return w.text();
}

}  // namespace herd
