#pragma once
// One client connection (PROTOCOL.md sections 2 to 5): framing, one reply per request in
// request order, batched writes, back-pressure, half-close and over-long lines. Lives on
// its worker's loop; freed in its close callback.
#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/line_splitter.hpp"
#include "core/reply_queue.hpp"
#include "core/timestamp.hpp"

namespace herd {

class Worker;

class Session {
 public:
  // Allocates a session whose handle is initialised on w's loop. The caller accepts a
  // connection into handle() and calls start(), or calls close_now() on failure.
  static Session* create(Worker& w);

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

  bool dirty = false;  // in the worker's dirty list (managed by Worker)

 private:
  explicit Session(Worker& w);
  static void on_alloc(uv_handle_t* h, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close(uv_handle_t* h);

  // Handles one complete line; returns false to stop reading (hand-off).
  bool handle_line(std::string_view line);
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
  std::string writing_;  // bytes of the write in flight
  std::string peer_;
  Timestamp now_;  // wall-clock time of the read being parsed
  std::uint64_t lines_ = 0;
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool read_closed_ = false;  // EOF, over-long line or drain: no more input
  bool closing_ = false;      // uv_close called
  bool paused_for_output_ = false;
  bool counted_open_ = false;
  std::size_t lookups_in_flight_ = 0;
};

}  // namespace herd
