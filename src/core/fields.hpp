#pragma once
// Field splitting for protocol lines (PROTOCOL.md section 2): fields are separated by
// runs of white space; leading and trailing white space is ignored.
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

  void add(std::string_view f) {
    if (count < kMax) field[count] = f;
    ++count;
  }
};

// The byte-at-a-time reference for split_fields (tests and fuzzers compare the two).
template <std::size_t kMax>
Fields<kMax> split_fields_bytewise(std::string_view line) {
  Fields<kMax> out;
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (i < n) {
    while (i < n && is_space(line[i])) ++i;
    if (i == n) break;
    std::size_t start = i;
    while (i < n && !is_space(line[i])) ++i;
    out.add(line.substr(start, i - start));
  }
  return out;
}

namespace detail {

#if defined(__SSE2__)
// Bit k set when p[k] is white space, for the 16 bytes at p.
inline unsigned space_bits16(const char* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i sp = _mm_cmpeq_epi8(x, _mm_set1_epi8(' '));
  // \t \n \v \f \r are 9 to 13; bytes from 0x80 compare as negative, so below 9.
  const __m128i ctl =
      _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(8)), _mm_cmplt_epi8(x, _mm_set1_epi8(14)));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(sp, ctl)));
}
#endif

// Bit k set when line[o + k] is white space, for k < len (len <= 64, and o + len is the
// line's end when len < 64); bits from len up are set too, so a field ends there.
inline std::uint64_t space_mask(std::string_view line, std::size_t o, std::size_t len) {
  std::uint64_t m = len < 64 ? ~std::uint64_t{0} << len : 0;
  std::size_t k = 0;
#if defined(__SSE2__)
  if (line.size() >= 16) {
    for (; k + 16 <= len; k += 16) m |= std::uint64_t{space_bits16(line.data() + o + k)} << k;
    if (k < len) {
      // The last 1 to 15 bytes: the line's last 16 bytes, shifted.
      const std::size_t r = len - k;
      m |= std::uint64_t{space_bits16(line.data() + line.size() - 16) >> (16 - r)} << k;
      k = len;
    }
  }
#endif
  for (; k < len; ++k) {
    if (is_space(line[o + k])) m |= std::uint64_t{1} << k;
  }
  return m;
}

}  // namespace detail

// Splits a line into fields 64 bytes at a time: a white-space mask per block, and each
// field's start and end found with a bit scan instead of a test per byte.
template <std::size_t kMax>
Fields<kMax> split_fields(std::string_view line) {
  Fields<kMax> out;
  const std::size_t n = line.size();
  std::size_t start = 0;
  bool open = false;  // a field started and has not ended yet
  for (std::size_t o = 0; o < n; o += 64) {
    const std::uint64_t space = detail::space_mask(line, o, std::min<std::size_t>(64, n - o));
    std::uint64_t above = ~std::uint64_t{0};  // the bits not yet scanned
    for (;;) {
      const std::uint64_t next = (open ? space : ~space) & above;
      if (next == 0) break;
      const int k = std::countr_zero(next);
      if (open) {
        out.add(line.substr(start, o + static_cast<std::size_t>(k) - start));
      } else {
        start = o + static_cast<std::size_t>(k);
      }
      open = !open;
      above = ~std::uint64_t{0} << k;
    }
  }
  if (open) out.add(line.substr(start));
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
