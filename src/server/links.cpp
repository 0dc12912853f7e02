#include "server/links.hpp"

#include <unistd.h>

#include <algorithm>
#include <random>

#include "core/fields.hpp"
#include "core/link_handshake.hpp"
#include "core/message.hpp"
#include "core/timestamp.hpp"
#include "core/tls_channel.hpp"
#include "server/links_internal.hpp"
#include "server/logging.hpp"

namespace herd {

using namespace link_limits;

Links::Links(ServerContext& ctx)
    : ctx_(ctx),
      read_buf_(64 * 1024),
      // "AT <server> <diff> " replaces "IAMAT ": every AT line a valid IAMAT of at most
      // max_line_bytes produces fits, with room to spare (PROTOCOL.md section 2).
      link_max_line_(ctx.config->max_line_bytes + kMaxServerNameBytes + kMaxTimeDiffBytes + 64) {
  const ServerConfig& self = *ctx.self;
  for (const auto& name : self.neighbors) {
    const ServerConfig* s = ctx.config->find(name);
    auto p = std::make_unique<Peer>();
    p->links = this;
    p->name = name;
    p->host = s->host;
    p->port = s->port;
    p->i_dial = self.name < name;
    peers_.push_back(std::move(p));
  }
}

Links::~Links() = default;

std::vector<std::pair<std::string, bool>> Links::link_states() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& p : peers_) out.emplace_back(p->name, p->up != nullptr);
  return out;
}

Links::Peer* Links::find_peer(std::string_view name) {
  for (auto& p : peers_) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

std::size_t Links::handshaking() const {
  return static_cast<std::size_t>(std::count_if(
      conns_.begin(), conns_.end(), [](const Conn* c) { return c->state != Conn::State::up; }));
}

bool Links::start(uv_loop_t* loop, std::string* error) {
  loop_ = loop;
  auto check = [&](int r, const char* what) {
    if (r != 0) *error = std::string(what) + ": " + uv_strerror(r);
    return r == 0;
  };
  if (!check(uv_async_init(loop, &async_, on_async), "uv_async_init") ||
      !check(uv_timer_init(loop, &sweep_), "uv_timer_init") ||
      !check(uv_check_init(loop, &check_), "uv_check_init") ||
      !check(uv_idle_init(loop, &idle_), "uv_idle_init") ||
      !check(uv_timer_init(loop, &stop_timer_), "uv_timer_init")) {
    return false;
  }
  open_handles_ = 5;
  async_.data = sweep_.data = check_.data = idle_.data = stop_timer_.data = this;
  for (auto& p : peers_) {
    if (!check(uv_timer_init(loop, &p->retry), "uv_timer_init")) return false;
    p->retry.data = p.get();
    ++open_handles_;
  }
  if (!check(uv_timer_start(&sweep_, on_sweep, 1000, 1000), "uv_timer_start") ||
      !check(uv_check_start(&check_, on_check), "uv_check_start")) {
    return false;
  }
  {
    std::lock_guard lock(mu_);
    phase_ = Phase::running;
    uv_async_send(&async_);  // handles whatever was posted before the start
  }
  std::string names;
  for (auto& p : peers_)
    names += (names.empty() ? "" : ", ") + p->name + (p->i_dial ? " (dials)" : " (accepts)");
  log().info("links: neighbours {}", names);
  send_wakes();
  for (auto& p : peers_) {
    if (p->i_dial) dial(*p);
  }
  return true;
}

void Links::post_floods(std::vector<RecordRef> recs, std::function<void()> ack) {
  std::size_t bytes = 0;
  for (const auto& r : recs) bytes += r->line_nl().size();
  {
    std::lock_guard lock(mu_);
    if (phase_ != Phase::stopped) {
      // Worker 0's loop is stalled if this much waits: drop the records and repair every
      // link with a catch-up once the loop runs again (a dropped flood is never lost).
      if (floods_in_bytes_ + bytes > kQueueCapBytes) {
        floods_overflowed_ = true;
        recs.clear();
        bytes = 0;
      }
      floods_in_bytes_ += bytes;
      floods_in_.push_back(FloodBatch{std::move(recs), std::move(ack)});
      if (phase_ == Phase::running) uv_async_send(&async_);
      return;
    }
  }
  ack();  // the links stopped: nothing to wait for
}

void Links::flood_local(const RecordRef& rec) {
  flood(rec, nullptr);
}

void Links::post_incoming(int fd, std::string first, std::string peer, bool tls) {
  std::lock_guard lock(mu_);
  if (phase_ == Phase::stopped) {
    ::close(fd);
    return;
  }
  incoming_.push_back(Incoming{fd, std::move(first), std::move(peer), tls});
  if (phase_ == Phase::running) uv_async_send(&async_);
}

void Links::post_wake(std::string wake_line, std::string peer) {
  std::lock_guard lock(mu_);
  if (phase_ == Phase::stopped || wakes_.size() >= kMaxHandshakes) return;
  wakes_.emplace_back(std::move(wake_line), std::move(peer));
  if (phase_ == Phase::running) uv_async_send(&async_);
}

void Links::on_async(uv_async_t* h) {
  auto* L = static_cast<Links*>(h->data);
  std::vector<FloodBatch> floods;
  std::vector<Incoming> incoming;
  std::vector<std::pair<std::string, std::string>> wakes;
  bool overflowed = false;
  {
    std::lock_guard lock(L->mu_);
    floods.swap(L->floods_in_);
    incoming.swap(L->incoming_);
    wakes.swap(L->wakes_);
    L->floods_in_bytes_ = 0;
    overflowed = std::exchange(L->floods_overflowed_, false);
  }
  try {
    for (auto& in : incoming) L->adopt_incoming(in.fd, in.first, in.peer, in.tls);
    for (auto& [line, peer] : wakes) L->wake(line, peer);
    for (const auto& batch : floods) {
      for (const auto& rec : batch.recs) L->flood(rec, nullptr);
    }
    if (overflowed) {
      log().warn("links: the flood queue from other workers overflowed; catching up every link");
      for (Conn* c : L->conns_) {
        if (c->state == Conn::State::up && !c->closing) L->start_catchup(c);
      }
    }
    // The records are on their way before the workers let their AT replies go.
    L->flush_writes();
  } catch (const std::exception& e) {
    log().error("links: {}", e.what());
  }
  for (auto& batch : floods) batch.ack();
}

// ---- dialling ----------------------------------------------------------------------

Links::Conn* Links::connect_to(Peer& p, ConnState state) {
  auto* c = new Conn;
  c->links = this;
  c->peer = &p;
  c->dialled = true;
  c->state = state;
  c->remote = p.host + ":" + std::to_string(p.port);
  c->started_ms = uv_now(loop_);
  int rc = uv_tcp_init(loop_, &c->tcp);
  if (rc != 0) {
    delete c;
    log().error("link {}: uv_tcp_init: {}", p.name, uv_strerror(rc));
    return nullptr;
  }
  c->tcp.data = c;
  c->connect_req.data = c;
  conns_.push_back(c);
  sockaddr_storage addr{};
  if (uv_ip4_addr(p.host.c_str(), p.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
    uv_ip6_addr(p.host.c_str(), p.port, reinterpret_cast<sockaddr_in6*>(&addr));
  }
  rc = uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<const sockaddr*>(&addr),
                      on_connect);
  if (rc != 0) {
    close_conn(c, std::string("connect: ") + uv_strerror(rc));  // schedules a redial
    return nullptr;
  }
  return c;
}

void Links::dial(Peer& p) {
  if (stopping_ || p.up || p.dialing) return;
  Conn* c = connect_to(p, Conn::State::connecting);
  if (c) {
    p.dialing = c;
  } else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&p.retry))) {
    schedule_redial(p, "cannot open a socket");
  }
}

void Links::send_wakes() {
  // The neighbours that dial us may be deep in their backoff: tell each that we are up,
  // so the link is back within milliseconds rather than seconds (PROTOCOL.md section 6).
  for (auto& p : peers_) {
    if (!p->i_dial) connect_to(*p, Conn::State::waking);
  }
}

void Links::wake(std::string_view line, const std::string& peer) {
  LinkLine l = parse_link_line(line);
  Peer* p = l.kind == LinkLineKind::wake ? find_peer(l.a) : nullptr;
  if (!p || l.b != ctx_.self->name || !p->i_dial) {
    log().warn("links: ignoring a wake-up from {}: {}", peer, for_log(line));
    return;
  }
  const std::uint64_t now = uv_now(loop_);
  if (p->up || p->dialing || now - p->last_wake_ms < kWakeMinIntervalMs) return;
  p->last_wake_ms = now;
  log().info("link {}: the neighbour started (wake-up from {}); dialling now", p->name, peer);
  uv_timer_stop(&p->retry);
  p->backoff_ms = kBackoffMinMs;
  dial(*p);
}

void Links::schedule_redial(Peer& p, const std::string& why) {
  if (stopping_ || !p.i_dial || p.up || p.dialing) return;
  static thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  const auto delay = static_cast<std::uint64_t>(static_cast<double>(p.backoff_ms) * jitter(rng));
  p.backoff_ms = std::min(p.backoff_ms * 2, kBackoffMaxMs);
  log().info("link {}: {}; dialling again in {} ms", p.name, why, delay);
  uv_timer_start(&p.retry, on_retry, delay, 0);
}

void Links::on_retry(uv_timer_t* h) {
  auto* p = static_cast<Peer*>(h->data);
  p->links->dial(*p);
}

void Links::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  Links* L = c->links;
  if (c->closing) return;  // cancelled by a close
  if (status != 0) {
    L->close_conn(c, std::string("connect to ") + c->remote + " failed: " + uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  // Over TLS the lines below wait (encrypted later) until the handshake is done; even a
  // wake-up connection reads until then.
  if (L->ctx_.tls && (!L->start_tls(c, true) || !L->start_reading(c))) return;
  if (c->state == Conn::State::waking) {
    L->send_control(c, "HERD-WAKE " + L->ctx_.self->name + " " + c->peer->name + "\n");
    c->draining = true;  // closes once written
    return;
  }
  if (!L->ctx_.tls && !L->start_reading(c)) return;
  c->state = Conn::State::hello_sent;
  c->nonce_d = make_nonce();
  L->send_control(
      c, "HERD-HELLO " + L->ctx_.self->name + " " + c->peer->name + " " + c->nonce_d + "\n");
}

// ---- closing -----------------------------------------------------------------------

void Links::close_conn(Conn* c, const std::string& reason) {
  if (c->closing) return;
  c->closing = true;
  Peer* p = c->peer;
  if (p && p->up == c) {
    p->up = nullptr;
    log().warn("link {} down: {}", p->name, reason);
  } else if (c->state == Conn::State::waking) {
    log().info("link {}: wake-up connection closed: {}", p->name, reason);
  } else if (!c->dialled) {
    log().info("link connection from {} ({}) closed: {}", c->remote, c->who(), reason);
  }
  if (p && p->dialing == c) p->dialing = nullptr;
  conns_.erase(std::find(conns_.begin(), conns_.end(), c));
  paused_.erase(std::remove(paused_.begin(), paused_.end(), c), paused_.end());
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), c), dirty_.end());
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_conn_close);
  ++pending_conn_closes_;
  if (p && c->dialled && c->state != Conn::State::waking) schedule_redial(*p, reason);
}

void Links::on_conn_close(uv_handle_t* h) {
  auto* c = static_cast<Conn*>(h->data);
  Links* L = c->links;
  delete c;
  --L->pending_conn_closes_;
  L->maybe_done();
}

void Links::on_sweep(uv_timer_t* h) {
  auto* L = static_cast<Links*>(h->data);
  const std::uint64_t now = uv_now(L->loop_);
  std::vector<Conn*> late;
  for (Conn* c : L->conns_) {
    if (c->state != Conn::State::up && now - c->started_ms > kHandshakeTimeoutMs) late.push_back(c);
  }
  for (Conn* c : late) {
    log().warn("link handshake with {} ({}) timed out after {} ms", c->remote, c->who(),
               kHandshakeTimeoutMs);
    if (c->tls && !c->tls->established())
      L->ctx_.metrics->tls_failures_link.fetch_add(1, std::memory_order_relaxed);
    L->close_conn(c, "handshake timed out");
  }
}

void Links::stop(std::function<void()> done) {
  done_ = std::move(done);
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    for (auto& in : incoming_) ::close(in.fd);
    incoming_.clear();
    wakes_.clear();
  }
  for (auto& p : peers_) uv_timer_stop(&p->retry);
  std::vector<Conn*> all = conns_;
  for (Conn* c : all) {
    if (c->state != Conn::State::up) close_conn(c, "server stopping");
  }
  maybe_done();
}

void Links::release() {
  if (releasing_) return;
  releasing_ = true;
  std::vector<FloodBatch> floods;
  {
    std::lock_guard lock(mu_);
    phase_ = Phase::stopped;
    floods.swap(floods_in_);
  }
  // Records the other workers accepted before they stopped still go out before the FIN.
  for (const auto& batch : floods) {
    for (const auto& rec : batch.recs) flood(rec, nullptr);
  }
  for (auto& batch : floods) batch.ack();
  std::vector<Conn*> all = conns_;
  for (Conn* c : all) {
    if (c->state == Conn::State::up &&
        (c->writes_in_flight != 0 || !c->floods.empty() || !c->control.empty())) {
      c->catching_up = false;
      c->catchup.clear();
      c->draining = true;
      want_write(c);
    } else {
      close_conn(c, "server stopping");
    }
  }
  uv_timer_start(&stop_timer_, on_stop_timeout, kReleaseGraceMs, 0);
  maybe_done();
}

void Links::on_stop_timeout(uv_timer_t* h) {
  auto* L = static_cast<Links*>(h->data);
  std::vector<Conn*> all = L->conns_;
  for (Conn* c : all) L->close_conn(c, "server stopping (queued records dropped after 1 s)");
}

void Links::maybe_done() {
  if (!releasing_ || !conns_.empty() || pending_conn_closes_ != 0 || closing_handles_) return;
  closing_handles_ = true;
  log_batch_.flush();
  // Peers' retry timers point to their peer; give them the Links pointer for the close.
  for (auto& p : peers_) p->retry.data = this;
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&async_), reinterpret_cast<uv_handle_t*>(&sweep_),
        reinterpret_cast<uv_handle_t*>(&check_), reinterpret_cast<uv_handle_t*>(&idle_),
        reinterpret_cast<uv_handle_t*>(&stop_timer_)}) {
    uv_close(h, on_static_close);
  }
  for (auto& p : peers_) uv_close(reinterpret_cast<uv_handle_t*>(&p->retry), on_static_close);
}

void Links::on_static_close(uv_handle_t* h) {
  auto* L = static_cast<Links*>(h->data);
  if (--L->open_handles_ == 0 && L->done_) {
    auto done = std::move(L->done_);
    done();
  }
}

}  // namespace herd
