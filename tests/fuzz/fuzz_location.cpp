// Fuzzes ISO 6709 location parsing: accepted locations are in range, and the exact-digit
// range check agrees with the value read.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/geo.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto l = parse_location(s);
  if (l) {
    if (!(l->lat >= -90 && l->lat <= 90 && l->lng >= -180 && l->lng <= 180)) std::abort();
    if (s.empty() || (s[0] != '+' && s[0] != '-')) std::abort();
    (void)distance_km(*l, {0, 0});
  }
  return 0;
}
