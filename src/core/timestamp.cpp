#include "core/timestamp.hpp"

#include <bit>
#include <charconv>
#include <cstring>

#include "core/fields.hpp"

namespace herd {

namespace {

// The eight ASCII digits at p as a number (the first the most significant), or false when
// a byte is not a digit. One load and three multiplications instead of eight steps.
bool eight_digits(const char* p, std::uint32_t& out) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  // Every high nibble 3, and no low nibble above 9 (adding 6 would carry into the high one).
  constexpr std::uint64_t kHigh = 0xF0F0F0F0F0F0F0F0u, kThrees = 0x3030303030303030u;
  if ((v & kHigh) != kThrees || ((v + 0x0606060606060606u) & kHigh) != kThrees) return false;
  v = ((v & 0x0F0F0F0F0F0F0F0Fu) * 2561) >> 8;
  v = ((v & 0x00FF00FF00FF00FFu) * 6553601) >> 16;
  out = static_cast<std::uint32_t>(((v & 0x0000FFFF0000FFFFu) * 42949672960001u) >> 32);
  return true;
}

}  // namespace

std::optional<Timestamp> parse_client_time(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  std::uint64_t sec = 0;
  if (n == 0 || !is_digit(s[0])) return std::nullopt;
  constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
  for (std::uint32_t d8; i + 8 <= n && eight_digits(s.data() + i, d8); i += 8) {
    if (sec > (kMax - d8) / 100'000'000) return std::nullopt;
    sec = sec * 100'000'000 + d8;
  }
  for (; i < n && is_digit(s[i]); ++i) {
    std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    if (sec > (kMax - d) / 10) return std::nullopt;
    sec = sec * 10 + d;
  }
  std::uint32_t nsec = 0;
  if (i < n) {
    if (s[i] != '.') return std::nullopt;
    ++i;
    if (i == n) return std::nullopt;
    int digits = 0;
    if (std::uint32_t d8; i + 8 <= n && eight_digits(s.data() + i, d8)) {
      nsec = d8;
      digits = 8;
      i += 8;
    }
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

std::optional<Timestamp> parse_client_time_bytewise(std::string_view s) {
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
    if (s[i] != '.' || i + 1 == n) return std::nullopt;
    int digits = 0;
    for (++i; i < n; ++i) {
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
