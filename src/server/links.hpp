#pragma once
// Server-to-server links (PROTOCOL.md section 6): one persistent link per neighbour,
// dialled by the server whose name sorts first and re-dialled with capped exponential
// backoff and jitter; the handshake of link_handshake.hpp; flooding of newer records to
// every neighbour but their source; catch-up of the whole table when a link comes up.
//
// Everything runs on worker 0's loop except post_flood and post_incoming, which any
// thread may call: they queue work and wake the loop through a uv_async_t.
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/line_splitter.hpp"
#include "core/record.hpp"
#include "server/context.hpp"
#include "server/logging.hpp"

namespace herd {

class Links {
 public:
  explicit Links(ServerContext& ctx);
  ~Links();
  Links(const Links&) = delete;
  Links& operator=(const Links&) = delete;

  // On worker 0's loop: sets up handles and starts dialling. False with *error on failure.
  bool start(uv_loop_t* loop, std::string* error);

  // Any thread: send a record accepted from a client to every neighbour.
  void post_flood(const RecordRef& rec);

  // Any thread: adopt an accepted socket (fd, a duplicate owned from now on by the link
  // layer) whose first line was hello_line.
  void post_incoming(int fd, std::string hello_line, std::string peer);

  // On the loop: close every link (after writing what is queued, within 2 s) and every
  // handle, then call done.
  void stop(std::function<void()> done);

  // On the loop: each neighbour's name and whether its link is up.
  std::vector<std::pair<std::string, bool>> link_states() const;

  struct Conn;  // one TCP connection to a neighbour (handshaking or up)
  struct Peer;  // one configured neighbour

 private:
  static void on_async(uv_async_t* h);
  static void on_sweep(uv_timer_t* h);
  static void on_check(uv_check_t* h);
  static void on_stop_timeout(uv_timer_t* h);
  static void on_retry(uv_timer_t* h);
  static void on_connect(uv_connect_t* req, int status);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_conn_close(uv_handle_t* h);
  static void on_static_close(uv_handle_t* h);

  void dial(Peer& p);
  void schedule_redial(Peer& p, const std::string& why);
  void adopt_incoming(int fd, const std::string& hello, const std::string& peer);
  bool start_reading(Conn* c);
  void handle_line(Conn* c, std::string_view line);
  void handle_handshake(Conn* c, std::string_view line);
  void handle_at(Conn* c, std::string_view line);
  void deny(Conn* c, const std::string& why);
  void link_up(Conn* c);
  void close_conn(Conn* c, const std::string& reason);
  void send_control(Conn* c, std::string line);
  void enqueue(Conn* c, const RecordRef& rec);
  void want_write(Conn* c);
  void kick(Conn* c);
  void refill_catchup(Conn* c);
  void flood(const RecordRef& rec, const Peer* except);
  void maybe_done();
  Peer* find_peer(std::string_view name);

  ServerContext& ctx_;
  uv_loop_t* loop_ = nullptr;
  uv_async_t async_{};
  uv_timer_t sweep_{};
  uv_check_t check_{};
  uv_idle_t idle_{};
  uv_timer_t stop_timer_{};
  std::vector<std::unique_ptr<Peer>> peers_;
  std::vector<Conn*> conns_;   // every open connection (handshaking or up)
  std::vector<Conn*> paused_;  // up links whose reading yielded for this loop pass
  std::vector<Conn*> dirty_;   // links with output to write at the end of the pass
  std::vector<char> read_buf_;
  LogBatch log_batch_;  // AT lines sent and received, flushed at the end of each loop pass

  // Guards the fields below. Work posted before start() waits in the queues; after
  // stop() it is dropped.
  std::mutex mu_;
  std::vector<RecordRef> flood_in_;
  std::vector<std::tuple<int, std::string, std::string>> incoming_;
  enum class Phase { not_started, running, stopped } phase_ = Phase::not_started;

  bool stopping_ = false;
  bool closing_handles_ = false;
  int pending_conn_closes_ = 0;
  int open_handles_ = 0;  // static handles still open (conns are counted by conns_)
  std::function<void()> done_;
};

}  // namespace herd
