#include "server/links.hpp"

#include <unistd.h>

#include <algorithm>
#include <random>

#include "core/fields.hpp"
#include "core/link_handshake.hpp"
#include "core/message.hpp"
#include "server/logging.hpp"

namespace herd {
namespace {

constexpr std::size_t kQueueCapBytes = 16 * 1024 * 1024;  // a slower link is dropped
constexpr std::size_t kCatchupLowWater = 256 * 1024;      // refill catch-up below this
constexpr std::uint64_t kBackoffMinMs = 100, kBackoffMaxMs = 5000;
constexpr std::uint64_t kHandshakeTimeoutMs = 5000;
constexpr std::uint64_t kStopGraceMs = 2000;
constexpr std::size_t kLinkMaxLine = 4096;
constexpr int kLinesPerPass = 512;  // then reading yields to the rest of the loop
constexpr std::size_t kMaxIov = 1024;

}  // namespace

struct Links::Peer {
  Links* links = nullptr;
  std::string name, host;
  std::uint16_t port = 0;
  bool i_dial = false;      // the server whose name sorts first dials
  Conn* up = nullptr;       // the live link, if any
  Conn* dialing = nullptr;  // our outgoing attempt (connecting or handshaking)
  uv_timer_t retry{};
  std::uint64_t backoff_ms = kBackoffMinMs;
};

struct Links::Conn {
  enum class State { connecting, hello_sent, proved, awaiting_hello, awaiting_prove, up };

  Links* links = nullptr;
  Peer* peer = nullptr;  // null until an incoming hello names a neighbour
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  uv_write_t write_req{};
  LineSplitter splitter{kLinkMaxLine};
  State state = State::connecting;
  bool dialled = false;
  std::string remote;
  std::string nonce_d, nonce_a;
  std::uint64_t started_ms = 0;

  std::string control;  // handshake lines waiting to be written (before records)
  std::deque<RecordRef> queue;
  std::size_t queued_bytes = 0;
  std::string writing_control;
  std::vector<RecordRef> writing_recs;
  std::vector<uv_buf_t> iov;
  bool writing = false;
  bool dirty = false;

  bool catching_up = false;
  bool catchup_draining = false;  // every record queued; logs once the queue is written
  std::size_t next_stripe = 0;
  std::uint64_t catchup_records = 0, catchup_start_ms = 0;

  bool reading = false;
  bool paused = false;
  int lines_this_pass = 0;
  bool draining = false;
  bool closing = false;

  const char* who() const { return peer ? peer->name.c_str() : "?"; }
};

Links::Links(ServerContext& ctx) : ctx_(ctx), read_buf_(64 * 1024) {
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
  for (auto& p : peers_) {
    if (p->i_dial) dial(*p);
  }
  return true;
}

void Links::post_flood(const RecordRef& rec) {
  std::lock_guard lock(mu_);
  if (phase_ == Phase::stopped) return;
  flood_in_.push_back(rec);
  if (phase_ == Phase::running) uv_async_send(&async_);
}

void Links::post_incoming(int fd, std::string hello_line, std::string peer) {
  std::lock_guard lock(mu_);
  if (phase_ == Phase::stopped) {
    ::close(fd);
    return;
  }
  incoming_.emplace_back(fd, std::move(hello_line), std::move(peer));
  if (phase_ == Phase::running) uv_async_send(&async_);
}

void Links::on_async(uv_async_t* h) {
  auto* L = static_cast<Links*>(h->data);
  std::vector<RecordRef> floods;
  std::vector<std::tuple<int, std::string, std::string>> incoming;
  {
    std::lock_guard lock(L->mu_);
    floods.swap(L->flood_in_);
    incoming.swap(L->incoming_);
  }
  try {
    for (auto& [fd, hello, peer] : incoming) L->adopt_incoming(fd, hello, peer);
    for (const auto& rec : floods) L->flood(rec, nullptr);
  } catch (const std::exception& e) {
    log().error("links: {}", e.what());
  }
}

// ---- dialling ----------------------------------------------------------------------

void Links::dial(Peer& p) {
  if (stopping_ || p.up || p.dialing) return;
  auto* c = new Conn;
  c->links = this;
  c->peer = &p;
  c->dialled = true;
  c->state = Conn::State::connecting;
  c->remote = p.host + ":" + std::to_string(p.port);
  c->started_ms = uv_now(loop_);
  int rc = uv_tcp_init(loop_, &c->tcp);
  if (rc != 0) {
    delete c;
    schedule_redial(p, uv_strerror(rc));
    return;
  }
  c->tcp.data = c;
  c->connect_req.data = c;
  conns_.push_back(c);
  p.dialing = c;
  sockaddr_storage addr{};
  if (uv_ip4_addr(p.host.c_str(), p.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
    uv_ip6_addr(p.host.c_str(), p.port, reinterpret_cast<sockaddr_in6*>(&addr));
  }
  rc = uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<const sockaddr*>(&addr),
                      on_connect);
  if (rc != 0) close_conn(c, std::string("connect: ") + uv_strerror(rc));
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
  if (!L->start_reading(c)) return;
  c->state = Conn::State::hello_sent;
  c->nonce_d = make_nonce();
  L->send_control(
      c, "HERD-HELLO " + L->ctx_.self->name + " " + c->peer->name + " " + c->nonce_d + "\n");
}

// ---- accepting ---------------------------------------------------------------------

void Links::adopt_incoming(int fd, const std::string& hello, const std::string& peer) {
  if (stopping_) {
    ::close(fd);
    return;
  }
  auto* c = new Conn;
  c->links = this;
  c->dialled = false;
  c->state = Conn::State::awaiting_hello;
  c->remote = peer;
  c->started_ms = uv_now(loop_);
  int rc = uv_tcp_init(loop_, &c->tcp);
  if (rc == 0) {
    rc = uv_tcp_open(&c->tcp, fd);
    if (rc != 0) {
      ::close(fd);
      c->tcp.data = c;
      conns_.push_back(c);
      close_conn(c, std::string("uv_tcp_open: ") + uv_strerror(rc));
      return;
    }
  } else {
    ::close(fd);
    delete c;
    log().error("links: uv_tcp_init: {}", uv_strerror(rc));
    return;
  }
  c->tcp.data = c;
  conns_.push_back(c);
  if (!start_reading(c)) return;
  handle_line(c, hello);
}

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
  if (nread == 0 || c->closing) return;
  if (nread < 0) {
    L->close_conn(c, nread == UV_EOF
                         ? "closed by the neighbour"
                         : std::string("read: ") + uv_strerror(static_cast<int>(nread)));
    return;
  }
  try {
    FeedResult r =
        c->splitter.feed(buf->base, static_cast<std::size_t>(nread), [c, L](std::string_view line) {
          L->handle_line(c, line);
          return !c->closing;
        });
    if (r == FeedResult::too_long) {
      L->close_conn(c, "line longer than " + std::to_string(kLinkMaxLine) + " bytes");
      return;
    }
  } catch (const std::exception& e) {
    L->close_conn(c, std::string("internal error: ") + e.what());
    return;
  }
  // Yield after a burst (a big catch-up) so the loop's other work is not held up.
  if (!c->closing && c->lines_this_pass >= kLinesPerPass && c->reading) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->reading = false;
    c->paused = true;
    L->paused_.push_back(c);
    uv_idle_start(&L->idle_, [](uv_idle_t*) {});
  }
}

void Links::handle_line(Conn* c, std::string_view line) {
  if (c->closing) return;
  ++c->lines_this_pass;
  if (c->state == Conn::State::up) {
    if (trim(line).empty()) return;
    handle_at(c, line);
    return;
  }
  log().info("link {} from {} < {}", c->who(), c->remote, for_log(line));
  handle_handshake(c, line);
}

void Links::deny(Conn* c, const std::string& why) {
  log().warn("link handshake from {} refused: {}", c->remote, why);
  send_control(c, "HERD-DENIED " + why + "\n");
  c->draining = true;  // closes once the refusal is written
  want_write(c);
}

void Links::handle_handshake(Conn* c, std::string_view line) {
  const std::string& secret = ctx_.secret;
  const std::string& self = ctx_.self->name;
  LinkLine l = parse_link_line(line);
  switch (c->state) {
    case Conn::State::awaiting_hello: {
      if (l.kind != LinkLineKind::hello) return deny(c, "expected HERD-HELLO");
      Peer* p = find_peer(l.a);
      if (!p) return deny(c, std::string(for_log(l.a)) + " is not a neighbour of " + self);
      if (l.b != self) return deny(c, "this server is " + self + ", not " + for_log(l.b));
      if (!valid_nonce(l.c)) return deny(c, "bad nonce");
      c->peer = p;
      c->nonce_d = std::string(l.c);
      if (secret.empty()) {
        send_control(c, "HERD-OK " + self + "\n");
        link_up(c);
        return;
      }
      c->nonce_a = make_nonce();
      std::string proof =
          link_proof(secret, ProofRole::acceptor, p->name, self, c->nonce_d, c->nonce_a);
      send_control(c, "HERD-CHALLENGE " + self + " " + c->nonce_a + " " + proof + "\n");
      c->state = Conn::State::awaiting_prove;
      return;
    }
    case Conn::State::awaiting_prove: {
      if (l.kind != LinkLineKind::prove) return deny(c, "expected HERD-PROVE");
      std::string expected =
          link_proof(secret, ProofRole::dialler, c->peer->name, self, c->nonce_d, c->nonce_a);
      if (!proof_matches(expected, l.a)) return deny(c, "proof of the link secret does not match");
      send_control(c, "HERD-OK " + self + "\n");
      link_up(c);
      return;
    }
    case Conn::State::hello_sent: {
      if (l.kind == LinkLineKind::denied)
        return close_conn(c, "refused by the neighbour: " + for_log(l.a));
      if (l.kind == LinkLineKind::ok) {
        if (l.a != c->peer->name)
          return close_conn(c, "answered by " + for_log(l.a) + ", not " + c->peer->name);
        if (!secret.empty()) {
          log().warn("link {}: neighbour accepted without proving the link secret; closing",
                     c->peer->name);
          return close_conn(c, "neighbour did not prove the link secret");
        }
        link_up(c);
        return;
      }
      if (l.kind != LinkLineKind::challenge) return close_conn(c, "unexpected handshake line");
      if (secret.empty()) {
        log().warn("link {}: the neighbour requires a link secret and ${} is not set",
                   c->peer->name, ctx_.config->secret_env);
        return close_conn(c, "neighbour requires a link secret");
      }
      if (l.a != c->peer->name || !valid_nonce(l.b)) return close_conn(c, "malformed challenge");
      c->nonce_a = std::string(l.b);
      std::string expected =
          link_proof(secret, ProofRole::acceptor, self, c->peer->name, c->nonce_d, c->nonce_a);
      if (!proof_matches(expected, l.c)) {
        log().warn("link {}: the neighbour's proof of the link secret does not match",
                   c->peer->name);
        return close_conn(c, "neighbour failed to prove the link secret");
      }
      send_control(c, "HERD-PROVE " +
                          link_proof(secret, ProofRole::dialler, self, c->peer->name, c->nonce_d,
                                     c->nonce_a) +
                          "\n");
      c->state = Conn::State::proved;
      return;
    }
    case Conn::State::proved: {
      if (l.kind == LinkLineKind::denied)
        return close_conn(c, "refused by the neighbour: " + for_log(l.a));
      if (l.kind != LinkLineKind::ok || l.a != c->peer->name)
        return close_conn(c, "unexpected handshake line");
      link_up(c);
      return;
    }
    default:
      return;
  }
}

void Links::handle_at(Conn* c, std::string_view line) {
  log_batch_.link_traffic(c->peer->name, '<', line);
  std::string_view t = trim(line);
  Message m = parse_message(t);
  if (m.kind != MessageKind::at) {
    log().warn("link {}: ignoring a line that is not an AT line", c->peer->name);
    return;
  }
  RecordRef rec = RecordRef::from_at_line(t, m);
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

void Links::link_up(Conn* c) {
  Peer* p = c->peer;
  c->state = Conn::State::up;
  if (p->dialing == c) p->dialing = nullptr;
  if (p->up && p->up != c) close_conn(p->up, "replaced by a new link from the neighbour");
  if (p->dialing) close_conn(p->dialing, "a link is already up");
  p->up = c;
  p->backoff_ms = kBackoffMinMs;
  uv_timer_stop(&p->retry);
  uv_tcp_keepalive(&c->tcp, 1, 30);
  log().info("link {} up ({} {}); catch-up of {} records starts", p->name,
             c->dialled ? "dialled" : "accepted from", c->remote, ctx_.table.size());
  c->catching_up = true;
  c->next_stripe = 0;
  c->catchup_records = 0;
  c->catchup_start_ms = uv_now(loop_);
  want_write(c);
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
  c->queue.push_back(rec);
  c->queued_bytes += n;
  want_write(c);
}

void Links::want_write(Conn* c) {
  if (c->dirty || c->closing) return;
  c->dirty = true;
  dirty_.push_back(c);
  uv_idle_start(&idle_, [](uv_idle_t*) {});
}

void Links::on_check(uv_check_t* h) {
  auto* L = static_cast<Links*>(h->data);
  std::vector<Conn*> dirty;
  dirty.swap(L->dirty_);
  for (Conn* c : dirty) {
    c->dirty = false;
    if (!c->closing) L->kick(c);
  }
  std::vector<Conn*> paused;
  paused.swap(L->paused_);
  for (Conn* c : paused) {
    c->paused = false;
    c->lines_this_pass = 0;
    if (!c->closing && !c->reading) L->start_reading(c);
  }
  for (Conn* c : L->conns_) c->lines_this_pass = 0;
  if (L->dirty_.empty() && L->paused_.empty()) uv_idle_stop(&L->idle_);
  L->log_batch_.flush();
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
    ctx_.table.snapshot_stripe(c->next_stripe++, recs);
    for (auto& r : recs) {
      c->queued_bytes += r->line_nl().size();
      c->queue.push_back(std::move(r));
    }
    c->catchup_records += recs.size();
  }
}

void Links::kick(Conn* c) {
  if (c->writing || c->closing) return;
  if (c->state == Conn::State::up && c->catching_up) refill_catchup(c);
  c->iov.clear();
  if (!c->control.empty()) {
    c->writing_control.swap(c->control);
    c->control.clear();
    c->iov.push_back(
        uv_buf_init(c->writing_control.data(), static_cast<unsigned>(c->writing_control.size())));
  }
  while (!c->queue.empty() && c->iov.size() < kMaxIov) {
    RecordRef r = std::move(c->queue.front());
    c->queue.pop_front();
    std::string_view text = r->line_nl();
    log_batch_.link_traffic(c->who(), '>', r->line());
    c->iov.push_back(
        uv_buf_init(const_cast<char*>(text.data()), static_cast<unsigned>(text.size())));
    c->writing_recs.push_back(std::move(r));
  }
  if (c->iov.empty()) {
    if (c->catchup_draining && c->state == Conn::State::up) {
      c->catchup_draining = false;
      log().info("link {}: catch-up sent {} records in {} ms", c->peer->name, c->catchup_records,
                 uv_now(loop_) - c->catchup_start_ms);
    }
    if (c->draining) close_conn(c, stopping_ ? "server stopping" : "handshake refused");
    return;
  }
  c->write_req.data = c;
  int rc = uv_write(&c->write_req, reinterpret_cast<uv_stream_t*>(&c->tcp), c->iov.data(),
                    static_cast<unsigned>(c->iov.size()), on_write);
  if (rc != 0) {
    close_conn(c, std::string("write: ") + uv_strerror(rc));
    return;
  }
  c->writing = true;
}

void Links::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  Links* L = c->links;
  c->writing = false;
  for (const auto& r : c->writing_recs) c->queued_bytes -= r->line_nl().size();
  c->writing_recs.clear();
  c->writing_control.clear();
  if (c->closing) return;
  if (status != 0) {
    L->close_conn(c, std::string("write: ") + uv_strerror(status));
    return;
  }
  L->kick(c);
}

// ---- closing -----------------------------------------------------------------------

void Links::close_conn(Conn* c, const std::string& reason) {
  if (c->closing) return;
  c->closing = true;
  Peer* p = c->peer;
  if (p && p->up == c) {
    p->up = nullptr;
    log().warn("link {} down: {}", p->name, reason);
  } else if (!c->dialled) {
    log().info("link connection from {} ({}) closed: {}", c->remote, c->who(), reason);
  }
  if (p && p->dialing == c) p->dialing = nullptr;
  conns_.erase(std::find(conns_.begin(), conns_.end(), c));
  paused_.erase(std::remove(paused_.begin(), paused_.end(), c), paused_.end());
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), c), dirty_.end());
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_conn_close);
  ++pending_conn_closes_;
  if (p && c->dialled) schedule_redial(*p, reason);
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
    L->close_conn(c, "handshake timed out");
  }
}

void Links::stop(std::function<void()> done) {
  done_ = std::move(done);
  stopping_ = true;
  std::vector<RecordRef> floods;
  {
    std::lock_guard lock(mu_);
    phase_ = Phase::stopped;
    for (auto& [fd, hello, peer] : incoming_) ::close(fd);
    incoming_.clear();
    floods.swap(flood_in_);
  }
  // Records the other workers accepted before they stopped still go out before the FIN.
  for (const auto& rec : floods) flood(rec, nullptr);
  for (auto& p : peers_) uv_timer_stop(&p->retry);
  std::vector<Conn*> all = conns_;
  for (Conn* c : all) {
    if (c->state == Conn::State::up && (c->writing || !c->queue.empty() || !c->control.empty())) {
      c->catching_up = false;
      c->draining = true;
      want_write(c);
    } else {
      close_conn(c, "server stopping");
    }
  }
  uv_timer_start(&stop_timer_, on_stop_timeout, kStopGraceMs, 0);
  maybe_done();
}

void Links::on_stop_timeout(uv_timer_t* h) {
  auto* L = static_cast<Links*>(h->data);
  std::vector<Conn*> all = L->conns_;
  for (Conn* c : all) L->close_conn(c, "server stopping (queued records dropped after 2 s)");
}

void Links::maybe_done() {
  if (!stopping_ || !conns_.empty() || pending_conn_closes_ != 0 || closing_handles_) return;
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
