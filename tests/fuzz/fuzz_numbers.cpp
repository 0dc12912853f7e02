// Fuzzes the number grammars (client times, radii, bounds, time differences) and the
// decimal formatter: every accepted value is in range, the client time parser agrees with
// its bytewise reference, time differences round-trip, and formatted numbers are bounded
// and read back.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "core/decimal_format.hpp"
#include "core/geo.hpp"
#include "core/timestamp.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto t = parse_client_time(s);
  if (t && (t->sec < 0 || t->nsec > 999999999u)) std::abort();
  if (t != parse_client_time_bytewise(s)) std::abort();
  if (auto r = parse_radius_km(s); r && !(*r > 0 && *r <= 50)) std::abort();
  if (auto b = parse_bound(s); b && (*b < 1 || *b > 20)) std::abort();
  if (is_time_diff(s) && s.size() >= kMaxTimeDiffBytes) std::abort();
  if (t) {
    Timestamp now{1700000000, 5};
    std::string diff;
    append_time_diff(diff, now, *t);
    if (!is_time_diff(diff)) std::abort();
    append_time_diff(diff, *t, now);
  }
  if (size >= sizeof(double) + 1) {
    double v;
    std::memcpy(&v, data, sizeof v);
    std::string out;
    append_decimal(out, v, data[sizeof v] % 20,
                   (data[sizeof v] & 0x80) ? TrailingZeros::keep_one : TrailingZeros::drop_all);
    if (out.size() > 48) std::abort();
    if (std::isfinite(v)) {
      double back = std::strtod(out.c_str(), nullptr);
      if (std::fabs(v) >= 1e15 && back != v) std::abort();
      if (std::fabs(v) < 1e15 && std::fabs(back - v) > 1.0) std::abort();
    } else if (out != "null") {
      std::abort();
    }
  }
  return 0;
}
