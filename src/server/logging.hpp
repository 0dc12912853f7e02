#pragma once
// The server log (PROTOCOL.md sections 7 and 10): one file per server, formatted by spdlog
// on the calling thread and written by LogWriter's thread (rotation, reopen, drops).
// Safe from any thread after open_log.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/timestamp.hpp"

namespace herd {

// Opens <dir>/<name>.log (creating dir), rotated at max_bytes (0: never) keeping `keep`
// old files. Returns false and sets *error on failure.
bool open_log(const std::string& dir, const std::string& name, std::uint64_t max_bytes,
              std::uint32_t keep, std::string* error);

// Flushes and closes the log; joins its writer thread. Call once, at exit, after every
// other thread that logs has stopped.
void close_log();

// Any thread: returns once what was logged so far is written (or dropped).
void flush_log();

// Any thread: reopen the log file (SIGHUP, for logrotate).
void reopen_log();

// Lines dropped because the log could not be written or fell behind.
std::uint64_t log_dropped_lines();

// The process logger (a null-sink logger before open_log, so tests of the shell run).
spdlog::logger& log();

// Escapes untrusted text for a log message.
std::string for_log(std::string_view s);

// A loop's log lines batched into one log message per loop pass: the hot path (every
// line received and sent) appends already-formatted, timestamped lines here instead of
// making a log message each. Lines keep their order; the batch goes to the log writer
// when the loop pass ends (Worker's uv_check). One batch belongs to one loop thread.
class LogBatch {
 public:
  // "client 7 < IAMAT ..." (direction '<' received, '>' sent), data escaped. `at`: the
  // wall-clock time to stamp (a session passes the time of the read that carried the
  // line, so the lines of one read share one formatted stamp); null: now.
  void client_traffic(std::uint64_t conn, char direction, std::string_view data,
                      const Timestamp* at = nullptr);
  // "link Ball < AT ..." on a link, data escaped.
  void link_traffic(std::string_view peer, char direction, std::string_view data);
  // One line of text at a level ("info", "warning"), already escaped.
  void line(std::string_view level, std::string_view text);
  // Hands the batch to the logger; no-op when empty.
  void flush();
  bool empty() const { return buf_.empty(); }
  std::size_t size() const { return buf_.size(); }

 private:
  void stamp(std::string_view level, const Timestamp* at = nullptr);
  std::string buf_;
  std::int64_t cached_sec_ = -1;
  long cached_us_ = -1;
  char prefix_[48] = {};  // "YYYY-MM-DDTHH:MM:SS.uuuuuu+00:00 " of cached_sec_, cached_us_
  std::size_t date_len_ = 0, prefix_len_ = 0;
};

}  // namespace herd
