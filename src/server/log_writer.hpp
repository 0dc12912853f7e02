#pragma once
// The log file's writer thread (PROTOCOL.md sections 7 and 10): loops hand it finished
// text and never wait for the disk. It rotates <Name>.log at max_bytes (keeping `keep`
// old files, <Name>.log.1 newest), reopens the file on request (SIGHUP, for logrotate)
// and by itself when the file was removed, and drops what it cannot write: lines are
// counted (dropped_lines) and a warning goes to stderr at most once a minute. Text also
// waits in memory at most kMaxQueuedBytes; beyond that new text is dropped and counted.
// Text reaches the file within a few milliseconds (kGather), or at once on flush().
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace herd {

class LogWriter {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 8 * 1024 * 1024;

  // path: the log file; max_bytes 0 never rotates.
  LogWriter(std::string path, std::uint64_t max_bytes, std::uint32_t keep);
  ~LogWriter();  // writes what is queued, then stops the thread
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Opens the file and starts the thread; false with *error if the file cannot be opened.
  bool start(std::string* error);

  // Any thread: queues whole lines (text ends with '\n').
  void write(std::string_view text);
  // Any thread: reopen the file before the next write (SIGHUP).
  void reopen();
  // Any thread: returns once the queue was empty and nothing was being written (or after
  // `limit`, if other threads keep logging).
  void flush(std::chrono::milliseconds limit = std::chrono::milliseconds(500));

  std::uint64_t dropped_lines() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    std::size_t size = 0, used = 0;
  };
  Chunk take_chunk(std::size_t at_least);    // under mu_
  void append_lines(std::string_view text);  // under mu_
  void run();
  void write_out(std::string_view text);
  bool write_all(std::string_view text);
  bool open_file();
  void rotate();
  void drop(std::string_view text, const char* why);
  bool file_replaced();

  const std::string path_;
  const std::uint64_t max_bytes_;
  const std::uint32_t keep_;

  std::mutex mu_;
  std::condition_variable wake_, idle_;
  std::vector<Chunk> queue_;  // text waiting, in order
  std::vector<Chunk> free_;   // written chunks, for reuse
  std::size_t queued_ = 0;    // bytes in queue_
  bool stop_ = false;
  bool hurry_ = false;  // flush() waits: no gathering
  bool writing_ = false;
  std::atomic<bool> reopen_{false};
  std::thread thread_;

  // Writer thread only.
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::int64_t last_warn_s_ = -1000000;
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace herd
