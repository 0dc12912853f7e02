#pragma once
// One worker: an event-loop thread with its own SO_REUSEPORT listening socket, the client
// sessions it accepted, and its places provider. Everything here runs on the worker's
// thread except the methods marked "any thread".
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/context.hpp"
#include "server/logging.hpp"
#include "server/places_provider.hpp"

namespace herd {

class Session;

class Worker {
 public:
  Worker(ServerContext& ctx, unsigned index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Makes this loop's places provider (called once, on the starting thread, after the
  // loop exists and before it runs); null with *error set on failure.
  using ProviderFactory = std::function<std::unique_ptr<PlacesProvider>(uv_loop_t*, std::string*)>;

  // Sets up the loop around listen_fd (ownership passes to the worker) and starts the
  // thread. Returns false with *error set if a libuv call or the provider fails.
  bool start(int listen_fd, const ProviderFactory& make_provider, std::string* error);

  // Any thread: runs task on this worker's loop. Dropped once the worker has stopped.
  void post(std::function<void()> task);

  // Any thread: stop accepting, let sessions finish what they owe (at most 5 s), close
  // every handle; the thread then ends. join() waits for it.
  void request_stop();
  void join();

  // Called on this loop during stop, before sessions are drained; `done` must be called
  // (on this loop) once the hook's handles are closed. Set before start().
  void add_stop_hook(std::function<void(std::function<void()> done)> hook) {
    stop_hooks_.push_back(std::move(hook));
  }

  uv_loop_t* loop() { return &loop_; }
  ServerContext& ctx() { return ctx_; }
  unsigned index() const { return index_; }
  PlacesProvider& provider() { return *provider_; }
  bool stopping() const { return stopping_; }

  // This loop's batch of log lines (flushed at the end of every loop pass).
  LogBatch& log_batch() { return log_batch_; }

  // Shared read buffer of this loop (sessions parse a read before the next one).
  char* read_buffer() { return read_buf_.data(); }
  std::size_t read_buffer_size() const { return read_buf_.size(); }

  // Sessions register themselves so late completions can find them by id.
  void add_session(Session* s);
  void remove_session(Session* s);
  Session* find_session(std::uint64_t id) const;

  // Queues s for the end-of-pass flush (a uv_check callback), which batches every reply
  // a session got during this loop pass into one write.
  void mark_dirty(Session* s);

 private:
  static void on_connection(uv_stream_t* server, int status);
  static void on_async(uv_async_t* h);
  static void on_check(uv_check_t* h);
  static void on_grace_timeout(uv_timer_t* h);
  static void on_lag_timer(uv_timer_t* h);
  void begin_stop();
  void maybe_finish();

  ServerContext& ctx_;
  unsigned index_;
  uv_loop_t loop_{};
  uv_tcp_t listener_{};
  uv_async_t async_{};
  uv_check_t check_{};
  uv_idle_t idle_{};
  uv_timer_t grace_{};
  uv_timer_t lag_timer_{};  // measures this loop's lag for the metrics
  uv_timer_t log_timer_{};  // hands the log batch to the writer every 10 ms
  std::uint64_t lag_expected_ns_ = 0;
  std::thread thread_;
  std::vector<char> read_buf_;
  LogBatch log_batch_;
  std::unique_ptr<PlacesProvider> provider_;

  std::mutex mu_;  // guards tasks_ and accepting_tasks_
  std::vector<std::function<void()>> tasks_;
  bool accepting_tasks_ = false;

  std::unordered_map<std::uint64_t, Session*> sessions_;
  std::vector<Session*> dirty_;
  bool stopping_ = false;
  int hooks_pending_ = 0;
  bool finished_ = false;
  std::vector<std::function<void(std::function<void()>)>> stop_hooks_;
};

}  // namespace herd
