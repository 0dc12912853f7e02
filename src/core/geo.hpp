#pragma once
// Validation of locations, radii and bounds (PROTOCOL.md sections 3 and 4). Ranges are
// checked on the digits, so "+90.0000000001" is rejected exactly.
#include <optional>
#include <string_view>

namespace herd {

struct Location {
  double lat = 0;
  double lng = 0;
};

// ISO 6709 `[+-]D{1,2}[.D+][+-]D{1,3}[.D+]`, latitude in [-90, 90], longitude in
// [-180, 180].
std::optional<Location> parse_location(std::string_view s);

// The same check without converting to degrees (an IAMAT or AT line only needs to be
// valid; its location is read as numbers only when a WHATSAT asks).
bool valid_location(std::string_view s);

// Radius in kilometres: `D+[.D+]`, > 0 and <= 50.
std::optional<double> parse_radius_km(std::string_view s);

// Most items wanted: `D+`, 1 to 20.
std::optional<int> parse_bound(std::string_view s);

// Great-circle distance in kilometres (haversine, mean Earth radius 6371.0088 km).
double distance_km(Location a, Location b);

constexpr int kMaxBound = 20;

}  // namespace herd
