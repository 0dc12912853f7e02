#include "core/decimal_format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace herd {

void append_decimal(std::string& out, double v, int decimals, TrailingZeros zeros) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  decimals = std::clamp(decimals, 0, 17);
  // Below 1e15 the text is at most a sign, 15 digits, a point and 17 decimals.
  char buf[48];
  int n = -1;
  if (std::fabs(v) < 1e15) n = std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  if (n < 0 || static_cast<std::size_t>(n) >= sizeof buf) {
    // The shortest round-trip form of a double is at most 24 characters.
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
    return;
  }
  if (decimals > 0) {
    while (n > 0 && buf[n - 1] == '0' && buf[n - 2] != '.') --n;
    if (buf[n - 1] == '0' && buf[n - 2] == '.' && zeros == TrailingZeros::drop_all) n -= 2;
    if (zeros == TrailingZeros::drop_all && buf[n - 1] == '.') --n;
  } else if (zeros == TrailingZeros::keep_one) {
    buf[n++] = '.';
    buf[n++] = '0';
  }
  out.append(buf, static_cast<std::size_t>(n));
}

}  // namespace herd
