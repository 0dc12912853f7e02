#include "core/log_escape.hpp"

#include <array>

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

}  // namespace

void append_log_escaped(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Runs of bytes kept as they are go in one append (a protocol line is one run).
    std::size_t j = i;
    while (j < n && !kEscaped[p[j]]) ++j;
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
