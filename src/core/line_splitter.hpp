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
  stopped,   // the line callback said stop; the rest of the input was dropped
  paused,    // the line callback said pause; the rest is held until resume()
};

// What a line callback asks for next. A callback may also return bool: true is go,
// false is stop.
enum class LineAction { go, pause, stop };

// Splits a byte stream into lines. Lines that lie whole inside one input chunk are
// handed over as views into that chunk (no copy); only a line split across chunks, or
// input held by a pause, is copied. A '\r' before '\n' is removed from the line.
// Not thread-safe: one splitter belongs to one connection.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes) : max_(max_line_bytes) {}

  // Calls on_line(std::string_view) for each complete line in data. The view is valid
  // only during the call. Must not be called while input is held (see resume).
  template <typename OnLine>
  FeedResult feed(const char* data, std::size_t len, OnLine&& on_line) {
    std::size_t used = 0;
    FeedResult r = run(data, len, on_line, used);
    if (r == FeedResult::paused) {
      held_.assign(data + used, len - used);
      held_pos_ = 0;
    }
    return r;
  }

  // After a pause: hands over the held input's lines, as feed would have. Returns ok
  // when nothing is held any more (then reading may resume), paused if the callback
  // paused again, or what feed returns.
  template <typename OnLine>
  FeedResult resume(OnLine&& on_line) {
    std::size_t used = 0;
    FeedResult r = run(held_.data() + held_pos_, held_.size() - held_pos_, on_line, used);
    if (r == FeedResult::paused) {
      held_pos_ += used;
    } else {
      held_.clear();
      held_pos_ = 0;
    }
    return r;
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
  bool has_held() const { return held_pos_ < held_.size(); }
  // The input held by a pause, which resume() hands over next.
  std::string_view held() const { return std::string_view(held_).substr(held_pos_); }
  // Changes the line limit for lines not yet complete (a link after its handshake).
  void set_max(std::size_t max_line_bytes) { max_ = max_line_bytes; }

 private:
  static LineAction action(bool go) { return go ? LineAction::go : LineAction::stop; }
  static LineAction action(LineAction a) { return a; }

  // Hands over the lines of data; `used` is how many bytes were consumed (for a pause).
  template <typename OnLine>
  FeedResult run(const char* data, std::size_t len, OnLine& on_line, std::size_t& used) {
    std::size_t pos = 0;
    auto after = [&](LineAction a) {
      used = pos;
      return a == LineAction::go     ? FeedResult::ok
             : a == LineAction::stop ? FeedResult::stopped
                                     : FeedResult::paused;
    };
    if (!partial_.empty()) {
      const char* nl = len ? static_cast<const char*>(std::memchr(data, '\n', len)) : nullptr;
      std::size_t take = nl ? static_cast<std::size_t>(nl - data) : len;
      if (partial_.size() + take > max_ + 1) return FeedResult::too_long;
      partial_.append(data, take);
      if (!nl) {
        if (content_size(partial_) > max_) return FeedResult::too_long;
        used = len;
        return FeedResult::ok;
      }
      std::string_view line = strip_cr(partial_);
      if (line.size() > max_) return FeedResult::too_long;
      LineAction a = action(on_line(line));
      partial_.clear();
      pos = take + 1;
      if (a != LineAction::go) return after(a);
    }
    while (pos < len) {
      const char* start = data + pos;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', len - pos));
      if (!nl) {
        std::string_view rest(start, len - pos);
        if (content_size(rest) > max_) return FeedResult::too_long;
        partial_.assign(rest);
        used = len;
        return FeedResult::ok;
      }
      std::string_view line =
          strip_cr(std::string_view(start, static_cast<std::size_t>(nl - start)));
      if (line.size() > max_) return FeedResult::too_long;
      pos = static_cast<std::size_t>(nl - data) + 1;
      LineAction a = action(on_line(line));
      if (a != LineAction::go) return after(a);
    }
    used = len;
    return FeedResult::ok;
  }

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
  std::string held_;  // input after a pause, from held_pos_ on
  std::size_t held_pos_ = 0;
};

}  // namespace herd
