#include "core/offline_places.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/places_json.hpp"

namespace herd {

namespace {
// floor(v) clamped to [0, hi] before the conversion, so no value (a NaN included) reaches
// an out-of-range float-to-int conversion.
int clamped_cell(double v, int hi) {
  const double f = std::floor(v);
  if (!(f >= 0)) return 0;
  return f >= hi ? hi : static_cast<int>(f);
}
}  // namespace

int OfflinePlaces::row_of(double lat) {
  return clamped_cell((lat + 90.0) / kCellDeg, kRows - 1);
}
int OfflinePlaces::col_of(double lng) {
  return clamped_cell((lng + 180.0) / kCellDeg, kCols - 1);
}

std::optional<OfflinePlaces> OfflinePlaces::parse(std::string text, std::string* error) {
  OfflinePlaces p;
  p.text_ = std::move(text);
  const std::string_view all = p.text_;
  std::size_t pos = 0, line_no = 0;
  auto fail = [&](const std::string& what) {
    if (error) *error = "line " + std::to_string(line_no) + ": " + what;
    return std::nullopt;
  };
  while (pos < all.size()) {
    ++line_no;
    std::size_t end = all.find('\n', pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(pos, end - pos);
    const std::size_t line_off = pos;
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    Span spans[5];
    std::size_t n = 0, start = 0;
    for (std::size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == '\t') {
        if (n == 5) return fail("more than 5 tab-separated fields");
        spans[n++] = Span{static_cast<std::uint32_t>(line_off + start),
                          static_cast<std::uint32_t>(i - start)};
        start = i + 1;
      }
    }
    if (n != 5) return fail("expected 5 tab-separated fields");
    Place place{0, 0, spans[0], spans[1], spans[2], spans[3], spans[4]};
    auto num = [&](Span s, double& v) {
      std::string_view t = p.field(s);
      auto r = std::from_chars(t.data(), t.data() + t.size(), v);
      return r.ec == std::errc() && r.ptr == t.data() + t.size();
    };
    if (!num(place.lat_text, place.lat) || place.lat < -90 || place.lat > 90)
      return fail("bad latitude");
    if (!num(place.lng_text, place.lng) || place.lng < -180 || place.lng > 180)
      return fail("bad longitude");
    p.places_.push_back(place);
  }
  // Counting sort of the places into grid cells (compressed rows).
  p.cell_start_.assign(static_cast<std::size_t>(kRows) * kCols + 1, 0);
  for (const Place& pl : p.places_) ++p.cell_start_[row_of(pl.lat) * kCols + col_of(pl.lng) + 1];
  for (std::size_t i = 1; i < p.cell_start_.size(); ++i) p.cell_start_[i] += p.cell_start_[i - 1];
  p.by_cell_.resize(p.places_.size());
  std::vector<std::uint32_t> fill(p.cell_start_.begin(), p.cell_start_.end() - 1);
  for (std::uint32_t i = 0; i < p.places_.size(); ++i) {
    const Place& pl = p.places_[i];
    p.by_cell_[fill[row_of(pl.lat) * kCols + col_of(pl.lng)]++] = i;
  }
  return p;
}

std::vector<std::uint32_t> OfflinePlaces::nearby(Location at, double radius_km,
                                                 std::size_t limit) const {
  constexpr double kKmPerDegLat = 111.19;  // slightly under the true value: a safe margin
  // WHATSAT radii are at most 50 km; a caller's larger value (or a NaN) is held to half the
  // Earth's circumference, which already covers every place.
  constexpr double kMaxRadiusKm = 20016;
  radius_km = radius_km >= 0 ? std::min(radius_km, kMaxRadiusKm) : 0;
  const double dlat = radius_km / kKmPerDegLat + 1e-9;
  const int r0 = row_of(at.lat - dlat), r1 = row_of(at.lat + dlat);
  // Longitude span: widest at the row edge nearest a pole; everything near the poles.
  const double max_abs_lat = std::min(90.0, std::abs(at.lat) + dlat);
  const double cos_lat = std::cos(max_abs_lat * 3.14159265358979323846 / 180.0);
  const bool all_cols = cos_lat < 1e-6 || radius_km / (kKmPerDegLat * cos_lat) >= 180.0;
  const double dlng = all_cols ? 180.0 : radius_km / (kKmPerDegLat * cos_lat) + 1e-9;

  std::vector<std::pair<double, std::uint32_t>> found;
  auto scan_cols = [&](int row, int c0, int c1) {
    for (int c = c0; c <= c1; ++c) {
      const std::size_t cell = static_cast<std::size_t>(row) * kCols + c;
      for (std::uint32_t k = cell_start_[cell]; k < cell_start_[cell + 1]; ++k) {
        const std::uint32_t i = by_cell_[k];
        const double d = distance_km(at, {places_[i].lat, places_[i].lng});
        if (d <= radius_km) found.emplace_back(d, i);
      }
    }
  };
  for (int row = r0; row <= r1; ++row) {
    if (all_cols) {
      scan_cols(row, 0, kCols - 1);
      continue;
    }
    double lo = at.lng - dlng, hi = at.lng + dlng;
    if (lo < -180.0) {  // wraps west across the antimeridian
      scan_cols(row, col_of(lo + 360.0), kCols - 1);
      scan_cols(row, 0, col_of(hi));
    } else if (hi > 180.0) {  // wraps east
      scan_cols(row, col_of(lo), kCols - 1);
      scan_cols(row, 0, col_of(hi - 360.0));
    } else {
      scan_cols(row, col_of(lo), col_of(hi));
    }
  }
  const std::size_t n = std::min(limit, found.size());
  std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(n), found.end());
  std::vector<std::uint32_t> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(found[i].second);
  return out;
}

void OfflinePlaces::append_json(std::string& out, const std::vector<std::uint32_t>& places) const {
  out += "{\n   \"html_attributions\" : [ \"";
  append_json_escaped(out, kAttribution);
  out += "\" ],\n   \"results\" : [";
  for (std::size_t k = 0; k < places.size(); ++k) {
    const Place& p = places_[places[k]];
    out += k == 0 ? "\n" : ",\n";
    out +=
        "      {\n         \"geometry\" : {\n            \"location\" : {\n               \"lat\" "
        ": ";
    out += field(p.lat_text);
    out += ",\n               \"lng\" : ";
    out += field(p.lng_text);
    out += "\n            }\n         },\n         \"name\" : \"";
    append_json_escaped(out, field(p.name));
    out += "\",\n         \"place_id\" : \"";
    append_json_escaped(out, field(p.id));
    out += "\",\n         \"types\" : [ \"locality\", \"political\" ],\n         \"vicinity\" : \"";
    append_json_escaped(out, field(p.vicinity));
    out += "\"\n      }";
  }
  out += places.empty() ? "],\n   \"status\" : \"ZERO_RESULTS\"\n}"
                        : "\n   ],\n   \"status\" : \"OK\"\n}";
}

}  // namespace herd
