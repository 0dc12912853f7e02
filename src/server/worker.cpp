#include "server/worker.hpp"

#include <unistd.h>

#include <cstdio>

#include "server/logging.hpp"
#include "server/session.hpp"

namespace herd {
namespace {
constexpr std::uint64_t kGraceMs = 5000;
constexpr std::size_t kReadBufferBytes = 64 * 1024;
constexpr std::uint64_t kLagPeriodMs = 250;
constexpr std::uint64_t kLogFlushMs = 10;
constexpr std::size_t kLogBatchFlushBytes = 64 * 1024;
}  // namespace

Worker::Worker(ServerContext& ctx, unsigned index)
    : ctx_(ctx), index_(index), read_buf_(kReadBufferBytes) {}

Worker::~Worker() {
  join();
}

bool Worker::start(int listen_fd, const ProviderFactory& make_provider, std::string* error) {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) {
    *error = std::string("uv_loop_init: ") + uv_strerror(rc);
    close(listen_fd);
    return false;
  }
  loop_.data = this;
  auto check = [&](int r, const char* what) {
    if (r != 0) *error = std::string(what) + ": " + uv_strerror(r);
    return r == 0;
  };
  bool ok = check(uv_tcp_init(&loop_, &listener_), "uv_tcp_init");
  if (ok && !check(uv_tcp_open(&listener_, listen_fd), "uv_tcp_open")) close(listen_fd);
  ok = ok &&
       check(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4096, on_connection),
             "uv_listen") &&
       check(uv_async_init(&loop_, &async_, on_async), "uv_async_init") &&
       check(uv_check_init(&loop_, &check_), "uv_check_init") &&
       check(uv_check_start(&check_, on_check), "uv_check_start") &&
       check(uv_idle_init(&loop_, &idle_), "uv_idle_init") &&
       check(uv_timer_init(&loop_, &grace_), "uv_timer_init") &&
       check(uv_timer_init(&loop_, &lag_timer_), "uv_timer_init") &&
       check(uv_timer_init(&loop_, &log_timer_), "uv_timer_init") &&
       check(uv_timer_start(
                 &log_timer_,
                 [](uv_timer_t* h) { static_cast<Worker*>(h->data)->log_batch_.flush(); },
                 kLogFlushMs, kLogFlushMs),
             "uv_timer_start") &&
       check(uv_timer_start(&lag_timer_, on_lag_timer, kLagPeriodMs, kLagPeriodMs),
             "uv_timer_start");
  if (!ok) return false;  // a process that cannot set up its loops exits; handles die with it
  provider_ = make_provider(&loop_, error);
  if (!provider_) return false;
  listener_.data = async_.data = check_.data = idle_.data = grace_.data = lag_timer_.data =
      log_timer_.data = this;
  lag_expected_ns_ = uv_hrtime() + kLagPeriodMs * 1000000;
  {
    std::lock_guard lock(mu_);
    accepting_tasks_ = true;
  }
  thread_ = std::thread([this] {
    int r = uv_run(&loop_, UV_RUN_DEFAULT);
    (void)r;
    int c = uv_loop_close(&loop_);
    if (c != 0) {
      // A handle leak: reported on stderr too, where the tests look for it.
      log().error("worker {}: loop closed with handles still open: {}", index_, uv_strerror(c));
      std::fprintf(stderr, "herd: worker %u: loop closed with handles still open\n", index_);
    }
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

void Worker::on_connection(uv_stream_t* server, int status) {
  auto* w = static_cast<Worker*>(server->data);
  if (status < 0) {
    log().warn("worker {}: accept failed: {}", w->index_, uv_strerror(status));
    return;
  }
  Session* s = Session::create(*w);
  int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(s->handle()));
  if (rc != 0) {
    log().warn("worker {}: accept failed: {}", w->index_, uv_strerror(rc));
    s->close_now("accept failed");
    return;
  }
  s->start();
}

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
  // An active idle handle makes the loop poll without blocking, so the check phase
  // (and the flush) follows promptly even when this was called from a timer.
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&idle_))) {
    uv_idle_start(&idle_, [](uv_idle_t*) {});
  }
}

void Worker::on_check(uv_check_t* h) {
  auto* w = static_cast<Worker*>(h->data);
  // Sessions closed during this pass are still allocated: close callbacks run after
  // the check phase.
  std::vector<Session*> dirty;
  dirty.swap(w->dirty_);
  for (Session* s : dirty) {
    s->dirty = false;
    s->flush();
  }
  if (w->dirty_.empty()) uv_idle_stop(&w->idle_);
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

void Worker::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
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
  uv_close(reinterpret_cast<uv_handle_t*>(&grace_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&lag_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&log_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  provider_.reset();
}

}  // namespace herd
