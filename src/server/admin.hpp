#pragma once
// The admin listener (off unless a server sets admin_port): a tiny HTTP/1.1 server on
// worker 0's loop answering GET /healthz (200 "ok" while every worker loop is
// responsive, else 503) and GET /metrics (Prometheus text). Never expose it: it has no
// authentication. One request per connection; at most kMaxConns at once, each closed if
// its request has not arrived within kRequestTimeoutMs; stopping closes them all at once,
// so an admin connection never delays shutdown (PROTOCOL.md section 10).
#include <uv.h>

#include <functional>
#include <list>
#include <string>

#include "server/context.hpp"

namespace herd {

class Admin {
 public:
  explicit Admin(ServerContext& ctx) : ctx_(ctx) {}

  // Binds and listens at once (any thread, before the loop runs), so the port accepts
  // connections from the moment the server starts. False with *error on failure.
  bool bind(std::string* error);

  // On worker 0's loop: starts serving the bound socket.
  bool start(uv_loop_t* loop, std::string* error);

  // On the loop: closes the listener and every connection, then calls done.
  void stop(std::function<void()> done);

  // The /metrics text (on worker 0's loop: it reads the link states).
  std::string render_metrics() const;
  // Empty when healthy, else why not.
  std::string health_problem() const;

 private:
  struct Conn;
  static constexpr std::size_t kMaxConns = 64;
  static constexpr std::uint64_t kRequestTimeoutMs = 5000;
  static void on_connection(uv_stream_t* server, int status);
  static void on_sweep(uv_timer_t* h);
  void handle(Conn* c);
  void close_conn(Conn* c);
  void maybe_done();

  ServerContext& ctx_;
  uv_loop_t* loop_ = nullptr;
  uv_tcp_t listener_{};
  bool listening_ = false;
  int fd_ = -1;
  uv_timer_t sweep_{};  // request time-outs
  bool stopping_ = false;
  int open_handles_ = 0;    // the listener, the sweep timer and every connection
  std::list<Conn*> conns_;  // open connections, oldest first
  std::function<void()> done_;
};

}  // namespace herd
