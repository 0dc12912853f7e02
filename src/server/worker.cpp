#include "server/worker.hpp"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "server/links.hpp"
#include "server/logging.hpp"
#include "server/nats_backbone.hpp"
#include "server/session.hpp"
#include "server/tls_context.hpp"

namespace herd {
namespace {
constexpr std::uint64_t kGraceMs = 3000;  // sessions; links and the log get the rest of 5 s
constexpr std::size_t kReadBufferBytes = 64 * 1024;
constexpr std::uint64_t kLagPeriodMs = 250;
constexpr std::uint64_t kLogFlushMs = 10;
constexpr std::size_t kLogBatchFlushBytes = 64 * 1024;
constexpr int kAcceptsPerPass = 128;             // then other work gets the loop
constexpr std::uint64_t kAcceptRetryMs = 100;    // after running out of descriptors
constexpr std::uint64_t kWarnIntervalMs = 1000;  // repeated accept errors: one line a second
constexpr std::uint64_t kIdleSweepMs = 1000;
}  // namespace

Worker::Worker(ServerContext& ctx, unsigned index)
    : ctx_(ctx), index_(index), read_buf_(kReadBufferBytes), lookahead_(ctx.table) {}

Worker::~Worker() {
  join();
}

bool Worker::open_listener(Listener& l, int fd, bool tls, std::string* error) {
  l.worker = this;
  l.fd = fd;
  l.tls = tls;
  l.poll.data = &l;
  int rc = uv_poll_init_socket(&loop_, &l.poll, fd);
  if (rc == 0) {
    l.closed = false;
    rc = uv_poll_start(&l.poll, UV_READABLE, on_accept_ready);
  }
  if (rc != 0) *error = std::string("listener: ") + uv_strerror(rc);
  return rc == 0;
}

bool Worker::start(int listen_fd, int tls_listen_fd, const ProviderFactory& make_provider,
                   std::string* error) {
  int rc = uv_loop_init(&loop_);
  // The loop times its waits for I/O, so that each pass's busy time is known (on_check).
  if (rc == 0 && (rc = uv_loop_configure(&loop_, UV_METRICS_IDLE_TIME)) != 0) uv_loop_close(&loop_);
  if (rc != 0) {
    *error = std::string("uv_loop_init: ") + uv_strerror(rc);
    close(listen_fd);
    if (tls_listen_fd >= 0) close(tls_listen_fd);
    return false;
  }
  loop_.data = this;
  auto check = [&](int r, const char* what) {
    if (r != 0) *error = std::string(what) + ": " + uv_strerror(r);
    return r == 0;
  };
  // A process that cannot set up its loops exits; its handles die with it.
  bool ok = open_listener(listeners_[0], listen_fd, false, error) &&
            (tls_listen_fd < 0 || open_listener(listeners_[1], tls_listen_fd, true, error));
  if (!ok) return false;
  const bool sweep = ctx_.config->idle_timeout_s != 0 || tls_listen_fd >= 0;
  ok = check(uv_timer_init(&loop_, &accept_retry_), "uv_timer_init") &&
       check(uv_async_init(&loop_, &async_, on_async), "uv_async_init") &&
       check(uv_check_init(&loop_, &check_), "uv_check_init") &&
       check(uv_check_start(&check_, on_check), "uv_check_start") &&
       check(uv_idle_init(&loop_, &idle_), "uv_idle_init") &&
       check(uv_timer_init(&loop_, &grace_), "uv_timer_init") &&
       check(uv_timer_init(&loop_, &lag_timer_), "uv_timer_init") &&
       check(uv_timer_init(&loop_, &log_timer_), "uv_timer_init") &&
       check(uv_timer_init(&loop_, &idle_sweep_), "uv_timer_init") &&
       check(uv_timer_start(
                 &log_timer_,
                 [](uv_timer_t* h) { static_cast<Worker*>(h->data)->log_batch_.flush(); },
                 kLogFlushMs, kLogFlushMs),
             "uv_timer_start") &&
       check(uv_timer_start(&lag_timer_, on_lag_timer, kLagPeriodMs, kLagPeriodMs),
             "uv_timer_start") &&
       (!sweep || check(uv_timer_start(&idle_sweep_, on_idle_sweep, kIdleSweepMs, kIdleSweepMs),
                        "uv_timer_start"));
  if (!ok) return false;
  provider_ = make_provider(&loop_, error);
  if (!provider_) return false;
  accept_retry_.data = async_.data = check_.data = idle_.data = grace_.data = lag_timer_.data =
      log_timer_.data = idle_sweep_.data = this;
  lag_expected_ns_ = uv_hrtime() + kLagPeriodMs * 1000000;
  {
    std::lock_guard lock(mu_);
    accepting_tasks_ = true;
  }
  thread_ = std::thread([this] {
    const std::string name = "herd-w" + std::to_string(index_);  // top -H, perf, /proc
    pthread_setname_np(pthread_self(), name.c_str());
    int r = uv_run(&loop_, UV_RUN_DEFAULT);
    (void)r;
    int c = uv_loop_close(&loop_);
    if (c != 0) {
      // A handle leak: reported on stderr too, where the tests look for it.
      log().error("worker {}: loop closed with handles still open: {}", index_, uv_strerror(c));
      std::fprintf(stderr, "herd: worker %u: loop closed with handles still open\n", index_);
    }
    std::lock_guard lock(mu_);
    thread_done_ = true;
    done_cv_.notify_all();
  });
  return true;
}

void Worker::post(std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (!accepting_tasks_) return;
  tasks_.push_back(std::move(task));
  uv_async_send(&async_);  // cannot fail on an initialised, open handle
}

void Worker::request_stop() {
  post([this] { begin_stop(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

bool Worker::join_until(std::chrono::steady_clock::time_point deadline) {
  if (!thread_.joinable()) return true;
  {
    std::unique_lock lock(mu_);
    if (!done_cv_.wait_until(lock, deadline, [this] { return thread_done_; })) return false;
  }
  thread_.join();
  return true;
}

void Worker::on_async(uv_async_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(w->mu_);
    tasks.swap(w->tasks_);
  }
  for (auto& t : tasks) {
    try {
      t();
    } catch (const std::exception& e) {
      log().error("worker {}: task failed: {}", w->index_, e.what());
    }
  }
}

// ---- accepting -------------------------------------------------------------------

void Worker::on_accept_ready(uv_poll_t* h, int status, int) {
  auto* l = static_cast<Listener*>(h->data);
  if (status < 0) {
    l->worker->pause_accepting(-status);
    return;
  }
  l->worker->accept_some(*l);
}

void Worker::accept_some(Listener& l) {
  const std::uint32_t max = ctx_.config->max_connections;
  // A TLS session uses the contexts current at its accept (a SIGHUP reload swaps them).
  std::shared_ptr<const TlsContexts> tls = l.tls ? ctx_.tls->get() : nullptr;
  for (int i = 0; i < kAcceptsPerPass && !stopping_; ++i) {
    int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
      pause_accepting(err);  // EMFILE, ENFILE, ENOBUFS, ENOMEM or worse: never spin
      return;
    }
    if (ctx_.client_connections.fetch_add(1, std::memory_order_relaxed) >= max) {
      ctx_.client_connections.fetch_sub(1, std::memory_order_relaxed);
      ::close(fd);
      ctx_.metrics->connections_refused.fetch_add(1, std::memory_order_relaxed);
      warn_limited(limit_warned_ms_, "client connection refused: max_connections (" +
                                         std::to_string(max) + ") reached");
      continue;
    }
    Session* s = Session::create(*this, tls ? tls->clients : nullptr);
    int rc = uv_tcp_open(s->handle(), fd);
    if (rc != 0) {
      ::close(fd);
      warn_limited(accept_warned_ms_, std::string("uv_tcp_open: ") + uv_strerror(rc));
      s->close_now("cannot adopt the socket");
      continue;
    }
    s->start();
  }
}

void Worker::pause_accepting(int err) {
  for (Listener& l : listeners_) {
    if (!l.closed) uv_poll_stop(&l.poll);
  }
  warn_limited(accept_warned_ms_,
               std::string("accept failed: ") + std::strerror(err) + " (" +
                   std::to_string(ctx_.client_connections.load()) +
                   " client connections open); accepting paused, retried every " +
                   std::to_string(kAcceptRetryMs) + " ms");
  uv_timer_start(&accept_retry_, on_accept_retry, kAcceptRetryMs, 0);
}

void Worker::on_accept_retry(uv_timer_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  if (w->stopping_) return;
  for (Listener& l : w->listeners_) {
    if (l.closed) continue;
    int rc = uv_poll_start(&l.poll, UV_READABLE, on_accept_ready);
    if (rc != 0) {
      w->pause_accepting(-rc);
      return;
    }
  }
}

void Worker::warn_limited(std::uint64_t& last_ms, const std::string& text) {
  const std::uint64_t now = uv_now(&loop_);
  if (last_ms != 0 && now - last_ms < kWarnIntervalMs) return;
  last_ms = now;
  log().warn("worker {}: {}", index_, text);
}

// ---- sessions --------------------------------------------------------------------

void Worker::add_session(Session* s) {
  sessions_.emplace(s->id(), s);
}

void Worker::remove_session(Session* s) {
  sessions_.erase(s->id());
  if (stopping_) maybe_finish();
}

Session* Worker::find_session(std::uint64_t id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void Worker::mark_dirty(Session* s) {
  if (s->dirty) return;
  s->dirty = true;
  dirty_.push_back(s);
  keep_polling();
}

void Worker::keep_polling() {
  // An active idle handle makes the loop poll without blocking, so the check phase
  // (flushes, resumes) follows promptly even when work was queued from a timer.
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&idle_))) {
    uv_idle_start(&idle_, [](uv_idle_t*) {});
  }
}

void Worker::resume_next_pass(Session* s) {
  yielded_.push_back(s->id());
  keep_polling();
}

void Worker::on_idle_sweep(uv_timer_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  const std::uint64_t idle_ms = std::uint64_t{w->ctx_.config->idle_timeout_s} * 1000;
  const std::uint64_t now = uv_now(&w->loop_);
  std::vector<Session*> idle, late;
  for (auto& [id, s] : w->sessions_) {
    if (s->tls_handshake_overdue(now)) {
      late.push_back(s);
    } else if (idle_ms != 0 && s->idle_since(now) >= idle_ms) {
      idle.push_back(s);
    }
  }
  for (Session* s : idle) {
    w->ctx_.metrics->connections_idle_closed.fetch_add(1, std::memory_order_relaxed);
    s->close_now("idle time-out");
  }
  for (Session* s : late) {
    w->ctx_.metrics->tls_failures_client.fetch_add(1, std::memory_order_relaxed);
    s->close_now("TLS handshake timed out");
  }
}

// ---- floods and the replies that wait for them -------------------------------------

std::uint64_t Worker::flood(const RecordRef& rec) {
  if (ctx_.nats) {
    // Published asynchronously: the reply never waits on NATS (PROTOCOL.md section 12).
    pending_backbone_.push_back(rec);
    keep_polling();
    return 0;
  }
  if (!ctx_.links) return 0;
  if (index_ == 0) {
    ctx_.links->flood_local(rec);  // written before this pass's replies (on_check)
    return 0;
  }
  pending_floods_.push_back(rec);
  return flood_epoch_ + 1;  // the batch on_check posts at the end of this pass
}

bool Worker::may_write(Session* s, std::uint64_t epoch) {
  if (epoch <= acked_epoch_) return true;
  if (!s->held) {
    s->held = true;
    held_.push_back(s->id());
  }
  return false;
}

void Worker::post_floods() {
  const std::uint64_t epoch = ++flood_epoch_;
  std::vector<RecordRef> recs;
  recs.swap(pending_floods_);
  ctx_.links->post_floods(std::move(recs),
                          [this, epoch] { post([this, epoch] { release_held(epoch); }); });
}

void Worker::release_held(std::uint64_t epoch) {
  if (epoch > acked_epoch_) acked_epoch_ = epoch;
  std::vector<std::uint64_t> ids;
  ids.swap(held_);
  for (std::uint64_t id : ids) {
    if (Session* s = find_session(id)) {
      s->held = false;
      s->flush();  // holds it again if it waits for a later batch
    }
  }
}

void Worker::on_check(uv_check_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  // The pass that ends here: the time since the last check, less the wait for I/O.
  const std::uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(&w->loop_);
  if (w->pass_check_ns_ != 0 && w->ctx_.metrics) {
    const std::uint64_t all = now - w->pass_check_ns_, waited = idle - w->pass_idle_ns_;
    w->ctx_.metrics->count_pass(w->index_, all > waited ? (all - waited) / 1000 : 0);
  }
  w->pass_check_ns_ = now;
  w->pass_idle_ns_ = idle;
  // Records go to the links before the replies that acknowledge them (PROTOCOL.md
  // section 6): worker 0 writes its links first; other workers post this pass's batch
  // and hold the replies until worker 0 has taken it.
  if (w->ctx_.links && w->index_ == 0) w->ctx_.links->flush_writes();
  if (!w->pending_floods_.empty()) w->post_floods();
  if (!w->pending_backbone_.empty()) {
    w->ctx_.nats->post(std::move(w->pending_backbone_));
    w->pending_backbone_.clear();
  }
  // Sessions closed during this pass are still allocated: close callbacks run after
  // the check phase.
  std::vector<Session*> dirty;
  dirty.swap(w->dirty_);
  for (Session* s : dirty) {
    s->dirty = false;
    s->flush();
  }
  // Sessions that yielded in this pass's reads take their next turn now, after every other
  // ready connection had its read; one that yields again waits for the next pass.
  w->yielded_now_.swap(w->yielded_);
  for (std::uint64_t id : w->yielded_now_) {
    if (Session* s = w->find_session(id)) s->resume_after_yield();
  }
  w->yielded_now_.clear();
  if (w->dirty_.empty() && w->yielded_.empty()) uv_idle_stop(&w->idle_);
  // A big batch goes at once; smaller ones wait for the 10 ms log timer, so a lightly
  // loaded loop does not wake the log writer thread on every pass.
  if (w->log_batch_.size() >= kLogBatchFlushBytes) w->log_batch_.flush();
}

void Worker::on_lag_timer(uv_timer_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  const std::uint64_t now = uv_hrtime();
  const std::uint64_t lag = now > w->lag_expected_ns_ ? (now - w->lag_expected_ns_) / 1000 : 0;
  if (w->ctx_.metrics && w->index_ < w->ctx_.metrics->loop_lag_us.size()) {
    w->ctx_.metrics->loop_lag_us[w->index_].store(lag, std::memory_order_relaxed);
  }
  w->lag_expected_ns_ = now + kLagPeriodMs * 1000000;
}

// ---- stopping ----------------------------------------------------------------------

void Worker::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  grace_deadline_ns_ = uv_hrtime() + kGraceMs * 1000000;
  uv_timer_stop(&accept_retry_);
  for (Listener& l : listeners_) {
    if (l.closed) continue;
    l.closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&l.poll), [](uv_handle_t* h) {
      auto* closed = static_cast<Listener*>(h->data);
      ::close(closed->fd);
      closed->fd = -1;
    });
  }
  hooks_pending_ = static_cast<int>(stop_hooks_.size());
  for (auto& hook : stop_hooks_) {
    hook([this] {
      --hooks_pending_;
      maybe_finish();
    });
  }
  std::vector<Session*> all;
  for (auto& [id, s] : sessions_) all.push_back(s);
  for (Session* s : all) s->drain();
  uv_timer_start(&grace_, on_grace_timeout, kGraceMs, 0);
  maybe_finish();
}

void Worker::on_grace_timeout(uv_timer_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  log().warn("worker {}: {} connections still owed replies after {} ms; closing them", w->index_,
             w->sessions_.size(), kGraceMs);
  std::vector<Session*> all;
  for (auto& [id, s] : w->sessions_) all.push_back(s);
  for (Session* s : all) s->close_now("shutdown grace period over");
}

void Worker::maybe_finish() {
  if (finished_ || !sessions_.empty() || hooks_pending_ != 0) return;
  finished_ = true;
  log_batch_.flush();
  {
    std::lock_guard lock(mu_);
    accepting_tasks_ = false;
  }
  for (uv_timer_t* t : {&grace_, &lag_timer_, &log_timer_, &idle_sweep_, &accept_retry_})
    uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  provider_.reset();
}

}  // namespace herd
