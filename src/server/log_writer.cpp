#include "server/log_writer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace herd {
namespace {

constexpr std::int64_t kWarnIntervalS = 60;
constexpr std::int64_t kCheckIntervalS = 1;  // is the file still there, when idle?
// Text waits in chunks of this size (a line longer than one gets a chunk of its own);
// written chunks are kept for reuse up to kKeepChunks, so that a loop's append copies into
// memory that is already mapped, and never moves what is queued.
constexpr std::size_t kChunkBytes = 256 * 1024;
constexpr std::size_t kKeepChunks = 8;
// Group commit: once text arrives, the writer lets more gather for this long (or until
// this much waits) and writes it at once: a wake-up and a write() per few milliseconds
// instead of one per loop pass of every loop.
constexpr auto kGather = std::chrono::milliseconds(4);
constexpr std::size_t kGatherBytes = 1024 * 1024;

std::int64_t now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

std::uint64_t count_lines(std::string_view text) {
  return static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

LogWriter::LogWriter(std::string path, std::uint64_t max_bytes, std::uint32_t keep)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

bool LogWriter::start(std::string* error) {
  if (!open_file()) {
    *error = "cannot open log file " + path_ + ": " + std::strerror(errno);
    return false;
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "herd-log");
    run();
  });
  return true;
}

LogWriter::Chunk LogWriter::take_chunk(std::size_t at_least) {
  if (at_least <= kChunkBytes && !free_.empty()) {
    Chunk c = std::move(free_.back());
    free_.pop_back();
    return c;
  }
  const std::size_t size = std::max(at_least, kChunkBytes);
  return Chunk{std::unique_ptr<char[]>(new char[size]), size, 0};
}

void LogWriter::append_lines(std::string_view text) {
  while (!text.empty()) {
    Chunk* last = queue_.empty() ? nullptr : &queue_.back();
    const std::size_t room = last ? last->size - last->used : 0;
    // Whole lines only, so that a chunk ends where a line does (rotation cuts at chunk
    // ends too): as many as fit, else a new chunk for the next line at least.
    std::size_t take = text.size();
    if (take > room) {
      const std::size_t nl = room == 0 ? std::string_view::npos : text.rfind('\n', room - 1);
      take = nl == std::string_view::npos ? 0 : nl + 1;
    }
    if (take == 0) {
      const std::size_t nl = text.find('\n');
      queue_.push_back(take_chunk(nl == std::string_view::npos ? text.size() : nl + 1));
      continue;
    }
    std::memcpy(last->data.get() + last->used, text.data(), take);
    last->used += take;
    text.remove_prefix(take);
  }
}

void LogWriter::write(std::string_view text) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    // The writer sleeps only on an empty queue, or while text gathers below kGatherBytes.
    wake = queued_ == 0 || (queued_ < kGatherBytes && queued_ + text.size() >= kGatherBytes);
    if (queued_ + text.size() <= kMaxQueuedBytes) {
      append_lines(text);
      queued_ += text.size();
      text = {};
    }
  }
  if (!text.empty()) {
    dropped_.fetch_add(count_lines(text), std::memory_order_relaxed);
  }
  if (wake) wake_.notify_one();
}

void LogWriter::reopen() {
  reopen_.store(true, std::memory_order_relaxed);
  wake_.notify_one();
}

void LogWriter::flush(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  hurry_ = true;
  wake_.notify_one();
  idle_.wait_for(lock, limit,
                 [this] { return (queued_ == 0 && !writing_) || !thread_.joinable(); });
}

void LogWriter::run() {
  std::vector<Chunk> batch;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::seconds(kCheckIntervalS), [this] {
        return stop_ || queued_ != 0 || reopen_.load(std::memory_order_relaxed);
      });
      if (queued_ != 0) {
        wake_.wait_for(lock, kGather,
                       [this] { return stop_ || hurry_ || queued_ >= kGatherBytes; });
      }
      hurry_ = false;
      batch.swap(queue_);
      queued_ = 0;
      writing_ = true;
      stop = stop_;
    }
    // A file that was moved or removed is replaced before the next write (two system
    // calls a batch, and batches are at most a hundred a second per loop).
    if (reopen_.exchange(false, std::memory_order_relaxed) || file_replaced()) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      open_file();
    }
    for (const Chunk& c : batch) write_out(std::string_view(c.data.get(), c.used));
    {
      std::lock_guard lock(mu_);
      // Chunks go back for reuse (a burst's extra ones, and oversized ones, are freed).
      for (Chunk& c : batch) {
        if (c.size == kChunkBytes && free_.size() < kKeepChunks) {
          c.used = 0;
          free_.push_back(std::move(c));
        }
      }
      writing_ = false;
      if (stop && queued_ == 0) {
        idle_.notify_all();
        return;
      }
    }
    batch.clear();  // the chunks not kept are freed outside the lock
    idle_.notify_all();
  }
}

bool LogWriter::open_file() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return false;
  struct stat st {};
  size_ = fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  return true;
}

bool LogWriter::file_replaced() {
  if (fd_ < 0) return true;
  struct stat by_path {
  }, by_fd{};
  if (stat(path_.c_str(), &by_path) != 0) return true;  // removed (or its folder was)
  if (fstat(fd_, &by_fd) != 0) return true;
  return by_path.st_ino != by_fd.st_ino || by_path.st_dev != by_fd.st_dev;
}

void LogWriter::rotate() {
  ::close(fd_);
  fd_ = -1;
  for (std::uint32_t i = keep_; i > 1; --i) {
    const std::string from = path_ + "." + std::to_string(i - 1);
    std::rename(from.c_str(), (path_ + "." + std::to_string(i)).c_str());
  }
  if (keep_ >= 1) {
    std::rename(path_.c_str(), (path_ + ".1").c_str());
  } else {
    ::unlink(path_.c_str());
  }
  open_file();
}

void LogWriter::drop(std::string_view text, const char* why) {
  const std::uint64_t total =
      dropped_.fetch_add(count_lines(text), std::memory_order_relaxed) + count_lines(text);
  const std::int64_t now = now_s();
  if (now - last_warn_s_ >= kWarnIntervalS) {
    last_warn_s_ = now;
    std::fprintf(stderr, "herd: cannot write the log %s: %s; dropping lines (%llu so far)\n",
                 path_.c_str(), why, static_cast<unsigned long long>(total));
  }
}

void LogWriter::write_out(std::string_view text) {
  // Rotation falls on line boundaries; a file exceeds max_bytes only by a line longer
  // than the rest of its room when it is the file's first.
  while (!text.empty()) {
    if (fd_ < 0 && !open_file()) {
      drop(text, std::strerror(errno));
      return;
    }
    std::string_view part = text;
    if (max_bytes_ != 0 && size_ + text.size() > max_bytes_) {
      const std::size_t room = size_ < max_bytes_ ? max_bytes_ - size_ : 0;
      const std::size_t cut = room == 0 ? std::string_view::npos : text.rfind('\n', room - 1);
      if (cut == std::string_view::npos) {
        if (size_ != 0) {
          rotate();
          continue;
        }
        const std::size_t nl = text.find('\n');  // one long line in an empty file
        part = nl == std::string_view::npos ? text : text.substr(0, nl + 1);
      } else {
        part = text.substr(0, cut + 1);
      }
    }
    if (!write_all(part)) return;
    text.remove_prefix(part.size());
  }
}

bool LogWriter::write_all(std::string_view text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Whole lines from the one the failure cut into.
      std::size_t from = done == 0 ? 0 : text.rfind('\n', done - 1);
      from = (done == 0 || from == std::string_view::npos) ? 0 : from + 1;
      drop(text.substr(from), n < 0 ? std::strerror(errno) : "nothing written");
      return false;
    }
    done += static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  return true;
}

}  // namespace herd
