#pragma once
// Server-to-server links (PROTOCOL.md section 6): one persistent link per neighbour,
// dialled by the server whose name sorts first and re-dialled with capped exponential
// backoff and jitter; the handshake of link_handshake.hpp (links_handshake.cpp); flooding
// of newer records to every neighbour but their source, ahead of catch-up; catch-up of
// the whole table when a link comes up; a wake-up call to the neighbours that dial us,
// so a restarted server is linked at once whichever side dials.
//
// Everything runs on worker 0's loop except the methods marked "any thread": they queue
// work and wake the loop through a uv_async_t.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

  // On worker 0's loop: sets up handles, wakes the neighbours that dial us and dials the
  // others. False with *error on failure.
  bool start(uv_loop_t* loop, std::string* error);

  // Any thread: records another worker stored during one loop pass, to flood to every
  // neighbour. ack() is called on worker 0's loop once they were handed to the links'
  // sockets (or dropped because the links stopped), so the worker can let the AT replies
  // go (section 6: the flood leaves no later than the reply).
  void post_floods(std::vector<RecordRef> recs, std::function<void()> ack);

  // On the loop: a record a session of worker 0 stored; queued at once. The writes go
  // out in flush_writes(), which worker 0 calls before it writes its sessions' replies.
  void flood_local(const RecordRef& rec);
  void flush_writes();

  // Any thread: adopt an accepted socket (fd, a duplicate owned from now on by the link
  // layer). Plaintext: `first` is its first line, a hello. TLS: `first` is every byte read
  // so far, starting with a TLS handshake record (PROTOCOL.md section 11).
  void post_incoming(int fd, std::string first, std::string peer, bool tls);

  // Any thread: a neighbour says it started and we should dial it now (HERD-WAKE).
  void post_wake(std::string wake_line, std::string peer);

  // On the loop, at the stop signal: no more dialling, accepting or handshakes; up links
  // keep flooding what the other workers still store while they drain. done is called
  // once release() has flushed and closed everything.
  void stop(std::function<void()> done);
  // On the loop, once every other worker has stopped: writes what is queued (for at most
  // 1 s), closes every link and handle, then calls stop's done.
  void release();

  // On the loop: each neighbour's name and whether its link is up.
  std::vector<std::pair<std::string, bool>> link_states() const;

  enum class ConnState {
    connecting,      // dialled, TCP connect in flight
    hello_sent,      // dialler: waiting for CHALLENGE or OK
    proved,          // dialler: waiting for OK
    awaiting_hello,  // acceptor
    awaiting_prove,  // acceptor
    waking,          // a one-line HERD-WAKE connection to a neighbour that dials us
    up,
  };
  struct Conn;  // one TCP connection to a neighbour (handshaking or up)
  struct Peer;  // one configured neighbour

 private:
  struct FloodBatch {
    std::vector<RecordRef> recs;
    std::function<void()> ack;
  };

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

  // Dialling (links.cpp).
  Conn* connect_to(Peer& p, ConnState state);
  void dial(Peer& p);
  void schedule_redial(Peer& p, const std::string& why);
  void send_wakes();
  void wake(std::string_view line, const std::string& peer);
  // The handshake (links_handshake.cpp).
  void adopt_incoming(int fd, const std::string& first, const std::string& peer, bool tls);
  bool start_tls(Conn* c, bool dialler);
  void handle_handshake(Conn* c, std::string_view line);
  void deny(Conn* c, const std::string& why);
  void link_up(Conn* c);
  // Reading and writing (links.cpp).
  bool start_reading(Conn* c);
  void receive(Conn* c, const char* data, std::size_t len);
  void handle_line(Conn* c, std::string_view line);
  void handle_at(Conn* c, std::string_view line);
  void close_conn(Conn* c, const std::string& reason);
  void send_control(Conn* c, std::string line);
  void enqueue(Conn* c, const RecordRef& rec);
  void want_write(Conn* c);
  void kick(Conn* c);
  void refill_catchup(Conn* c);
  void start_catchup(Conn* c);
  void flood(const RecordRef& rec, const Peer* except);
  void maybe_done();
  Peer* find_peer(std::string_view name);
  std::size_t handshaking() const;

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
  std::string tls_plain_;      // a TLS read's plaintext, parsed before the next read
  std::size_t link_max_line_;  // longest AT line a valid IAMAT can produce, plus margin
  LogBatch log_batch_;         // AT lines sent and received, flushed at the end of each loop pass
  std::uint64_t refused_logged_ms_ = 0;  // rate limit of "too many handshakes" warnings

  // Guards the fields below. Work posted before start() waits in the queues; after
  // stop() floods are acknowledged at once and dropped.
  std::mutex mu_;
  std::vector<FloodBatch> floods_in_;
  std::size_t floods_in_bytes_ = 0;
  bool floods_overflowed_ = false;  // records were dropped: every link needs a catch-up
  struct Incoming {
    int fd;
    std::string first, peer;
    bool tls;
  };
  std::vector<Incoming> incoming_;
  std::vector<std::pair<std::string, std::string>> wakes_;
  enum class Phase { not_started, running, stopped } phase_ = Phase::not_started;

  bool stopping_ = false;   // stop(): no dialling, accepting or handshakes
  bool releasing_ = false;  // release(): links close once their queues are written
  bool closing_handles_ = false;
  int pending_conn_closes_ = 0;
  int open_handles_ = 0;  // static handles still open (conns are counted by conns_)
  std::function<void()> done_;
};

}  // namespace herd
