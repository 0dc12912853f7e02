#pragma once
// One client connection (PROTOCOL.md sections 2 to 5): framing, one reply per request in
// request order, batched writes, half-close and over-long lines. It owns its limits
// (section 10): input is parsed line by line and stops (the rest held) while more than
// 4 MiB of replies are owed or too many lookups are outstanding; it resumes under 1 MiB.
// Lives on its worker's loop; freed in its close callback.
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/line_splitter.hpp"
#include "core/reply_queue.hpp"
#include "core/timestamp.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace herd {

class Worker;
class TlsChannel;
struct Message;

class Session {
 public:
  // Allocates a session whose handle is initialised on w's loop. The caller accepts a
  // connection into handle() and calls start(), or calls close_now() on failure. With
  // tls_ctx the connection speaks TLS (the client TLS port, PROTOCOL.md section 11):
  // everything below is the same, on the decrypted stream.
  static Session* create(Worker& w, SSL_CTX* tls_ctx = nullptr);
  ~Session();

  uv_tcp_t* handle() { return &tcp_; }
  std::uint64_t id() const { return id_; }

  // Starts reading after the handle is connected/accepted. Logs the opening.
  void start();

  // Writes the ready replies if no write is in flight (called by the worker's flush).
  void flush();

  // Stop reading; close once every owed reply is written (server shutdown).
  void drain();

  // Closes at once, dropping unwritten replies (grace time-out, fatal errors).
  void close_now(const char* reason);

  // Milliseconds since the last line received or write finished; 0 while a lookup for it
  // is outstanding (the wait is the server's, not the client's).
  std::uint64_t idle_since(std::uint64_t now_ms) const;

  // A TLS session whose handshake has not finished within the time-out.
  bool tls_handshake_overdue(std::uint64_t now_ms) const;

  bool dirty = false;  // in the worker's dirty list (managed by Worker)
  bool held = false;   // in the worker's list of replies waiting for a flood (Worker)

 private:
  explicit Session(Worker& w);
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  // After a write of plain_in_flight_ reply bytes (status: 0 or a libuv error), from
  // on_write or from flush when the socket took them at once.
  void write_done(int status, bool from_callback);
  static void on_close(uv_handle_t* h);

  void receive(const char* data, std::size_t len);
  void end_of_input();
  void flush_tls();

  // Handles one complete line; says whether to go on, pause (back-pressure) or stop
  // (the connection was handed to the link layer).
  LineAction handle_line(std::string_view line);
  void handle_whatsat(std::string_view line, const Message& m);
  // Acts on what the splitter returned for a read or a resume.
  void after_input(FeedResult r);
  // Parses held input and reads again once the owed replies and lookups are low.
  void maybe_resume();
  void resume_input();

 public:
  // Called by the worker one loop pass after this session yielded (see kLinesPerTurn).
  void resume_after_yield();

 private:
  void reply(std::string_view text);
  void reply_invalid(std::string_view line);
  void maybe_close();
  void pause_reading();

  Worker& w_;
  uv_tcp_t tcp_{};
  uv_write_t write_req_{};
  std::uint64_t id_;
  LineSplitter splitter_;
  ReplyQueue replies_;
  std::string writing_;  // ciphertext of the TLS write in flight
  std::unique_ptr<TlsChannel> tls_;
  std::size_t plain_in_flight_ = 0;  // reply bytes the write in flight carries
  bool tls_shut_ = false;            // close_notify queued
  bool tls_eof_pending_ = false;     // close_notify arrived while input was held
  bool seen_input_ = false;
  std::string peer_;
  Timestamp now_;  // wall-clock time of the read being parsed
  std::uint64_t lines_ = 0;
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool read_closed_ = false;            // EOF, over-long line or drain: no more input
  bool closing_ = false;                // uv_close called
  bool input_paused_ = false;           // back-pressure: input held in the splitter, not reading
  int lines_this_turn_ = 0;             // lines parsed since the last read or resume
  std::size_t owed_at_turn_start_ = 0;  // owed reply bytes when this turn began
  bool counted_open_ = false;
  std::size_t lookups_in_flight_ = 0;
  std::uint64_t hold_epoch_ = 0;  // replies wait until the links have this flood batch
  std::uint64_t last_active_ms_ = 0;
  std::uint64_t opened_ms_ = 0;
};

}  // namespace herd
