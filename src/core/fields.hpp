#pragma once
// Field splitting for protocol lines (PROTOCOL.md section 2): fields are separated by
// runs of white space; leading and trailing white space is ignored.
#include <array>
#include <cstddef>
#include <string_view>

namespace herd {

// True for the protocol's white-space bytes: space, tab, CR, LF, form feed, vertical tab.
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Up to kMax fields of one line, as views into that line. `count` is the number of
// fields found, which may exceed kMax (then only the first kMax are stored).
template <std::size_t kMax>
struct Fields {
  std::array<std::string_view, kMax> field{};
  std::size_t count = 0;
};

template <std::size_t kMax>
constexpr Fields<kMax> split_fields(std::string_view line) {
  Fields<kMax> out;
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (i < n) {
    while (i < n && is_space(line[i])) ++i;
    if (i == n) break;
    std::size_t start = i;
    while (i < n && !is_space(line[i])) ++i;
    if (out.count < kMax) out.field[out.count] = line.substr(start, i - start);
    ++out.count;
  }
  return out;
}

// The line without leading and trailing white space.
constexpr std::string_view trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace herd
