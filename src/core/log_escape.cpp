#include "core/log_escape.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace herd {
namespace {

// True for the bytes that are escaped: control bytes, DEL and the backslash.
constexpr std::array<bool, 256> kEscaped = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
  t[0x7f] = true;
  t['\\'] = true;
  return t;
}();

// The length of the run of bytes at the start of p[0..n) that are kept as they are.
std::size_t kept_run(const unsigned char* p, std::size_t n) {
  std::size_t j = 0;
#ifdef __SSE2__
  // 16 bytes at a time: a byte is escaped if it is at most 0x1f, 0x7f or '\\'.
  const __m128i low = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f), bs = _mm_set1_epi8('\\');
  for (; j + 16 <= n; j += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j));
    const __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, low), v),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, bs)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return j + static_cast<std::size_t>(__builtin_ctz(mask));
  }
#endif
  while (j < n && !kEscaped[p[j]]) ++j;
  return j;
}

}  // namespace

void append_log_escaped(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Runs of bytes kept as they are go in one append (a protocol line is one run).
    const std::size_t j = i + kept_run(p + i, n - i);
    out.append(s.data() + i, j - i);
    if (j == n) break;
    const unsigned char c = p[j];
    char esc[4] = {'\\', 0, 0, 0};
    std::size_t len = 2;
    switch (c) {
      case '\\':
        esc[1] = '\\';
        break;
      case '\n':
        esc[1] = 'n';
        break;
      case '\r':
        esc[1] = 'r';
        break;
      case '\t':
        esc[1] = 't';
        break;
      default:
        esc[1] = 'x';
        esc[2] = kHex[c >> 4];
        esc[3] = kHex[c & 15];
        len = 4;
    }
    out.append(esc, len);
    i = j + 1;
  }
}

}  // namespace herd
