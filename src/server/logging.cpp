#include "server/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/log_escape.hpp"
#include "server/log_writer.hpp"

namespace herd {
namespace {

// Message payloads that start with this byte are pre-formatted lines (a LogBatch) and
// are written as they are; everything else gets the pattern.
constexpr char kRawMarker = '\x1e';
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%f%z %-7l %v";

class BatchAwareFormatter final : public spdlog::formatter {
 public:
  BatchAwareFormatter() : inner_(kPattern, spdlog::pattern_time_type::utc) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto& p = msg.payload;
    if (p.size() > 0 && p.data()[0] == kRawMarker) {
      dest.append(p.data() + 1, p.data() + p.size());
      return;
    }
    inner_.format(msg, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<BatchAwareFormatter>();
  }

 private:
  spdlog::pattern_formatter inner_;
};

// Formats each message on the calling thread and hands the text to the writer thread,
// which never makes a loop wait for the disk.
class WriterSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit WriterSink(LogWriter& w) : w_(w) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    w_.write(std::string_view(buf.data(), buf.size()));
  }
  void flush_() override { w_.flush(); }

 private:
  LogWriter& w_;
};

std::unique_ptr<LogWriter>& writer() {
  static std::unique_ptr<LogWriter> w;
  return w;
}

std::shared_ptr<spdlog::logger>& current() {
  static std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>(
      "herd-null", std::make_shared<spdlog::sinks::null_sink_mt>());
  return logger;
}

bool make_dirs(const std::string& dir, std::string* error) {
  std::string path;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (path.empty()) continue;
    if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = "cannot create log folder " + path + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace

bool open_log(const std::string& dir, const std::string& name, std::uint64_t max_bytes,
              std::uint32_t keep, std::string* error) {
  if (!make_dirs(dir, error)) return false;
  auto w = std::make_unique<LogWriter>(dir + "/" + name + ".log", max_bytes, keep);
  if (!w->start(error)) return false;
  auto logger = std::make_shared<spdlog::logger>("herd", std::make_shared<WriterSink>(*w));
  logger->set_formatter(std::make_unique<BatchAwareFormatter>());
  logger->set_level(spdlog::level::info);
  writer() = std::move(w);
  current() = logger;
  return true;
}

void close_log() {
  current() = std::make_shared<spdlog::logger>("herd-null",
                                               std::make_shared<spdlog::sinks::null_sink_mt>());
  writer().reset();  // writes what is queued, then stops its thread
}

void flush_log() {
  if (writer()) writer()->flush();
}

void reopen_log() {
  if (writer()) writer()->reopen();
}

std::uint64_t log_dropped_lines() {
  return writer() ? writer()->dropped_lines() : 0;
}

spdlog::logger& log() {
  return *current();
}

std::string for_log(std::string_view s) {
  return log_escaped(s);
}

void LogBatch::stamp(std::string_view level, const Timestamp* at) {
  timespec ts{};
  if (at) {
    ts.tv_sec = static_cast<time_t>(at->sec);
    ts.tv_nsec = static_cast<long>(at->nsec);
  } else {
    clock_gettime(CLOCK_REALTIME, &ts);
  }
  const long us = ts.tv_nsec / 1000;
  if (ts.tv_sec != cached_sec_ || us != cached_us_) {
    if (ts.tv_sec != cached_sec_) {
      tm t{};
      gmtime_r(&ts.tv_sec, &t);
      date_len_ = std::strftime(prefix_, sizeof prefix_ - 14, "%Y-%m-%dT%H:%M:%S", &t);
      cached_sec_ = ts.tv_sec;
    }
    // ".uuuuuu+00:00 " after the date, by hand.
    char* p = prefix_ + date_len_;
    *p = '.';
    long v = us;
    for (int k = 6; k >= 1; --k, v /= 10) p[k] = static_cast<char>('0' + v % 10);
    std::memcpy(p + 7, "+00:00 ", 7);
    prefix_len_ = date_len_ + 14;
    cached_us_ = us;
  }
  if (buf_.empty()) buf_.push_back(kRawMarker);
  buf_.append(prefix_, prefix_len_).append(level);
  buf_.append(level.size() < 7 ? 8 - level.size() : 1, ' ');
}

void LogBatch::client_traffic(std::uint64_t conn, char direction, std::string_view data,
                              const Timestamp* at) {
  stamp("info", at);
  char id[40] = "client ";
  char* end = std::to_chars(id + 7, id + sizeof id - 3, conn).ptr;
  *end++ = ' ';
  *end++ = direction;
  *end++ = ' ';
  buf_.append(id, static_cast<std::size_t>(end - id));
  append_log_escaped(buf_, data);
  buf_.push_back('\n');
}

void LogBatch::link_traffic(std::string_view peer, char direction, std::string_view data) {
  stamp("info");
  buf_.append("link ").append(peer).push_back(' ');
  buf_.push_back(direction);
  buf_.push_back(' ');
  append_log_escaped(buf_, data);
  buf_.push_back('\n');
}

void LogBatch::line(std::string_view level, std::string_view text) {
  stamp(level);
  buf_.append(text);
  buf_.push_back('\n');
}

void LogBatch::flush() {
  if (buf_.empty()) return;
  // Already formatted: straight to the writer, one copy (spdlog when there is no file).
  if (LogWriter* w = writer().get()) {
    w->write(std::string_view(buf_).substr(1));
  } else {
    log().info(std::string_view(buf_));
  }
  buf_.clear();
}

}  // namespace herd
