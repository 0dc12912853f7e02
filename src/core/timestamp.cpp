#include "core/timestamp.hpp"

#include <charconv>

#include "core/fields.hpp"

namespace herd {

std::optional<Timestamp> parse_client_time(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  std::uint64_t sec = 0;
  if (n == 0 || !is_digit(s[0])) return std::nullopt;
  for (; i < n && is_digit(s[i]); ++i) {
    std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    if (sec > (static_cast<std::uint64_t>(INT64_MAX) - d) / 10) return std::nullopt;
    sec = sec * 10 + d;
  }
  std::uint32_t nsec = 0;
  if (i < n) {
    if (s[i] != '.') return std::nullopt;
    ++i;
    if (i == n) return std::nullopt;
    int digits = 0;
    for (; i < n; ++i) {
      if (!is_digit(s[i])) return std::nullopt;
      if (digits < 9) {
        nsec = nsec * 10 + static_cast<std::uint32_t>(s[i] - '0');
        ++digits;
      }
    }
    for (; digits < 9; ++digits) nsec *= 10;
  }
  return Timestamp{static_cast<std::int64_t>(sec), nsec};
}

std::size_t format_time_diff(char* buf, Timestamp now, Timestamp then) {
  // Work in (unsigned seconds, nanoseconds) of the magnitude to avoid overflow: both
  // second counts are in [0, 2^63), so their difference fits in 64 unsigned bits.
  bool negative = now < then;
  Timestamp hi = negative ? then : now;
  Timestamp lo = negative ? now : then;
  std::uint64_t sec = static_cast<std::uint64_t>(hi.sec) - static_cast<std::uint64_t>(lo.sec);
  std::int64_t nsec = static_cast<std::int64_t>(hi.nsec) - static_cast<std::int64_t>(lo.nsec);
  if (nsec < 0) {
    nsec += 1'000'000'000;
    sec -= 1;
  }
  char* p = buf;
  *p++ = negative ? '-' : '+';
  p = std::to_chars(p, buf + kMaxTimeDiffBytes, sec).ptr;
  *p++ = '.';
  std::uint32_t f = static_cast<std::uint32_t>(nsec);
  for (int k = 8; k >= 0; --k) {
    p[k] = static_cast<char>('0' + f % 10);
    f /= 10;
  }
  return static_cast<std::size_t>(p + 9 - buf);
}

void append_time_diff(std::string& out, Timestamp now, Timestamp then) {
  char buf[kMaxTimeDiffBytes];
  out.append(buf, format_time_diff(buf, now, then));
}

bool is_time_diff(std::string_view s) {
  // At most what format_time_diff writes: a sign, 20 digits, '.', nine digits.
  if (s.size() < 12 || s.size() >= kMaxTimeDiffBytes || (s[0] != '+' && s[0] != '-')) return false;
  std::size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot < 2 || s.size() - dot - 1 != 9) return false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (i != dot && !is_digit(s[i])) return false;
  }
  return true;
}

}  // namespace herd
