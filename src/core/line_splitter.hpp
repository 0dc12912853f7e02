#pragma once
// Incremental line framing (PROTOCOL.md section 2), free of any I/O.
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace herd {

enum class FeedResult {
  ok,        // every complete line was handed over; a partial one is kept
  too_long,  // a line exceeded the limit; earlier lines were handed over, the rest dropped
  stopped,   // the line callback returned false; the rest of the input was dropped
};

// Splits a byte stream into lines. Lines that lie whole inside one input chunk are
// handed over as views into that chunk (no copy); only a line split across chunks is
// copied into the internal buffer. A '\r' before '\n' is removed from the line.
// Not thread-safe: one splitter belongs to one connection.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes) : max_(max_line_bytes) {}

  // Calls on_line(std::string_view) for each complete line in data; on_line returns
  // false to stop. The view is valid only during the call.
  template <typename OnLine>
  FeedResult feed(const char* data, std::size_t len, OnLine&& on_line) {
    std::size_t pos = 0;
    if (!partial_.empty()) {
      const char* nl = static_cast<const char*>(std::memchr(data, '\n', len));
      std::size_t take = nl ? static_cast<std::size_t>(nl - data) : len;
      if (partial_.size() + take > max_ + 1) return FeedResult::too_long;
      partial_.append(data, take);
      if (!nl) {
        if (content_size(partial_) > max_) return FeedResult::too_long;
        return FeedResult::ok;
      }
      std::string_view line = strip_cr(partial_);
      if (line.size() > max_) return FeedResult::too_long;
      bool go = on_line(line);
      partial_.clear();
      pos = take + 1;
      if (!go) return FeedResult::stopped;
    }
    while (pos < len) {
      const char* start = data + pos;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', len - pos));
      if (!nl) {
        std::string_view rest(start, len - pos);
        if (content_size(rest) > max_) return FeedResult::too_long;
        partial_.assign(rest);
        return FeedResult::ok;
      }
      std::string_view line =
          strip_cr(std::string_view(start, static_cast<std::size_t>(nl - start)));
      if (line.size() > max_) return FeedResult::too_long;
      pos = static_cast<std::size_t>(nl - data) + 1;
      if (!on_line(line)) return FeedResult::stopped;
    }
    return FeedResult::ok;
  }

  // At end of input: hands over a final unterminated line, if any. Returns false if
  // that line is over the limit (it is then not handed over).
  template <typename OnLine>
  bool finish(OnLine&& on_line) {
    if (partial_.empty()) return true;
    std::string_view line = partial_;
    if (line.size() > max_) return false;
    on_line(line);
    partial_.clear();
    return true;
  }

  bool has_partial() const { return !partial_.empty(); }

 private:
  static std::string_view strip_cr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }
  // A trailing '\r' may still become part of the terminator, so it does not count yet.
  static std::size_t content_size(std::string_view s) {
    return (!s.empty() && s.back() == '\r') ? s.size() - 1 : s.size();
  }

  std::size_t max_;
  std::string partial_;
};

}  // namespace herd
