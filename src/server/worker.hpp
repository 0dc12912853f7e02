#pragma once
// One worker: an event-loop thread with its own SO_REUSEPORT listening socket, the client
// sessions it accepted, and its places provider. Everything here runs on the worker's
// thread except the methods marked "any thread".
//
// The accept path owns the connection limits (PROTOCOL.md section 10): at most
// max_connections client connections per server (more are closed right after accept),
// and when descriptors run out accepting pauses and is retried on a timer, so the loop
// never spins and established connections keep being served.
#include <uv.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/byte_chain.hpp"
#include "core/id_lookahead.hpp"
#include "core/record.hpp"
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

  // Sets up the loop around listen_fd and, if not -1, tls_listen_fd (the client TLS port;
  // ownership of both passes to the worker) and starts the thread. Returns false with
  // *error set if a libuv call or the provider fails.
  bool start(int listen_fd, int tls_listen_fd, const ProviderFactory& make_provider,
             std::string* error);

  // Any thread: runs task on this worker's loop. Dropped once the worker has stopped.
  void post(std::function<void()> task);

  // Any thread: stop accepting at once, let sessions finish what they owe (at most 3 s),
  // close every handle; the thread then ends. join() waits for it; join_until() gives up
  // at the deadline and returns false.
  void request_stop();
  void join();
  bool join_until(std::chrono::steady_clock::time_point deadline);

  // Called on this loop when the stop begins, before sessions are drained; `done` must
  // be called (on this loop) once the hook's handles are closed. Set before start().
  void add_stop_hook(std::function<void(std::function<void()> done)> hook) {
    stop_hooks_.push_back(std::move(hook));
  }

  uv_loop_t* loop() { return &loop_; }
  ServerContext& ctx() { return ctx_; }
  unsigned index() const { return index_; }
  PlacesProvider& provider() { return *provider_; }
  bool stopping() const { return stopping_; }
  // True once the stop's grace period for sessions is over, by the clock (a busy loop
  // pass does not wait for its timer to fire).
  bool grace_over() const { return stopping_ && uv_hrtime() >= grace_deadline_ns_; }

  // This loop's batch of log lines (flushed at the end of every loop pass).
  LogBatch& log_batch() { return log_batch_; }

  // Shared read buffer of this loop (sessions parse a read before the next one).
  char* read_buffer() { return read_buf_.data(); }
  std::size_t read_buffer_size() const { return read_buf_.size(); }
  // Shared buffer for the plaintext of one TLS read (parsed before the next read).
  std::string& tls_plain_buffer() { return tls_plain_; }
  // Client-table lookups of the lines a session is about to handle (it scans its input
  // before handing the lines over, and hashes client ids through it).
  IdLookahead& lookahead() { return lookahead_; }
  // Reply blocks of this loop's sessions.
  BlockPool& block_pool() { return blocks_; }
  // Scratch lists for gathering one write (a session fills and uses them at once).
  std::vector<std::string_view>& scratch_parts() { return parts_; }
  std::vector<uv_buf_t>& scratch_bufs() { return bufs_; }

  // Sessions register themselves so late completions can find them by id.
  void add_session(Session* s);
  void remove_session(Session* s);
  Session* find_session(std::uint64_t id) const;

  // Queues s for the end-of-pass flush (a uv_check callback), which batches every reply
  // a session got during this loop pass into one write.
  void mark_dirty(Session* s);

  // s yielded the loop after a turn of lines: resume_after_yield() is called on it at the
  // end of this loop pass (or of the next, if it yielded during those resumes), after the
  // other ready connections had their turn.
  void resume_next_pass(Session* s);

  // A record a session stored, to flood to the neighbours. Returns the flood epoch the
  // session's replies must wait for (0: none; see may_write).
  std::uint64_t flood(const RecordRef& rec);
  // True if replies held for flood epoch `epoch` may be written now; otherwise the
  // session is remembered and flushed once the links have the records.
  bool may_write(Session* s, std::uint64_t epoch);

 private:
  struct Listener {
    Worker* worker = nullptr;
    int fd = -1;
    uv_poll_t poll{};
    bool tls = false;
    bool closed = true;  // the poll is closed (or was never opened)
  };
  static void on_accept_ready(uv_poll_t* h, int status, int events);
  static void on_accept_retry(uv_timer_t* h);
  static void on_async(uv_async_t* h);
  static void on_check(uv_check_t* h);
  static void on_grace_timeout(uv_timer_t* h);
  static void on_lag_timer(uv_timer_t* h);
  static void on_idle_sweep(uv_timer_t* h);
  void keep_polling();
  bool open_listener(Listener& l, int fd, bool tls, std::string* error);
  void accept_some(Listener& l);
  void pause_accepting(int err);
  void warn_limited(std::uint64_t& last_ms, const std::string& text);
  void post_floods();
  void release_held(std::uint64_t epoch);
  void begin_stop();
  void maybe_finish();

  ServerContext& ctx_;
  unsigned index_;
  BlockPool blocks_;  // reply blocks of this loop's sessions (outlives them)
  uv_loop_t loop_{};
  Listener listeners_[2];  // the client port and, with a tls_port, the client TLS port
  uv_timer_t accept_retry_{};
  std::uint64_t accept_warned_ms_ = 0, limit_warned_ms_ = 0;
  uv_async_t async_{};
  uv_check_t check_{};
  uv_idle_t idle_{};
  uv_timer_t grace_{};
  uv_timer_t lag_timer_{};   // measures this loop's lag for the metrics
  uv_timer_t log_timer_{};   // hands the log batch to the writer every 10 ms
  uv_timer_t idle_sweep_{};  // closes idle clients (idle_timeout_s)
  std::uint64_t lag_expected_ns_ = 0;
  std::uint64_t pass_check_ns_ = 0, pass_idle_ns_ = 0;  // at the last check: for pass times
  std::thread thread_;
  std::vector<char> read_buf_;
  std::string tls_plain_;
  IdLookahead lookahead_;
  std::vector<std::string_view> parts_;
  std::vector<uv_buf_t> bufs_;
  LogBatch log_batch_;
  std::unique_ptr<PlacesProvider> provider_;

  std::mutex mu_;  // guards tasks_, accepting_tasks_ and thread_done_
  std::vector<std::function<void()>> tasks_;
  bool accepting_tasks_ = false;
  bool thread_done_ = false;
  std::condition_variable done_cv_;

  std::unordered_map<std::uint64_t, Session*> sessions_;
  std::vector<Session*> dirty_;
  std::vector<std::uint64_t> yielded_, yielded_now_;  // session ids to resume (resume_next_pass)
  // Floods of this loop pass (workers other than 0) and the replies waiting for them.
  std::vector<RecordRef> pending_floods_;
  std::vector<RecordRef> pending_backbone_;  // to the NATS backbone at the end of the pass
  std::uint64_t flood_epoch_ = 0;            // batches posted to the links
  std::uint64_t acked_epoch_ = 0;            // batches the links have taken
  std::vector<std::uint64_t> held_;          // ids of sessions waiting for an ack
  bool stopping_ = false;
  std::uint64_t grace_deadline_ns_ = 0;
  int hooks_pending_ = 0;
  bool finished_ = false;
  std::vector<std::function<void(std::function<void()>)>> stop_hooks_;
};

}  // namespace herd
