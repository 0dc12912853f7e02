#include "core/places_legacy.hpp"

#include <algorithm>

#include "core/decimal_format.hpp"
#include "core/places_json.hpp"

namespace herd {
namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  append_json_escaped(out, s);
  out += '"';
  return out;
}

std::string rendered_number(double v) {
  std::string out;
  append_decimal(out, v, 7, TrailingZeros::keep_one);
  return out;
}

}  // namespace

bool on_earth(double lat, double lng) {
  return lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180;  // false for NaN too
}

LegacyResult& LegacyResult::location(double lat, double lng) {
  members_.emplace_back(
      "geometry",
      "{\n            \"location\" : {\n               \"lat\" : " + rendered_number(lat) +
          ",\n               \"lng\" : " + rendered_number(lng) + "\n            }\n         }");
  return *this;
}

LegacyResult& LegacyResult::string(std::string_view key, std::string_view value) {
  members_.emplace_back(std::string(key), quoted(value));
  return *this;
}

LegacyResult& LegacyResult::number(std::string_view key, double value) {
  members_.emplace_back(std::string(key), rendered_number(value));
  return *this;
}

LegacyResult& LegacyResult::integer(std::string_view key, std::int64_t value) {
  members_.emplace_back(std::string(key), std::to_string(value));
  return *this;
}

LegacyResult& LegacyResult::strings(std::string_view key,
                                    const std::vector<std::string_view>& values) {
  std::string v = "[";
  for (std::size_t i = 0; i < values.size(); ++i) v += (i ? ", " : " ") + quoted(values[i]);
  v += values.empty() ? "]" : " ]";
  members_.emplace_back(std::string(key), std::move(v));
  return *this;
}

std::string LegacyResult::text() const {
  auto sorted = members_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out = "      {\n";
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    out += "         \"";
    append_json_escaped(out, sorted[i].first);
    out += "\" : " + sorted[i].second + (i + 1 < sorted.size() ? ",\n" : "\n");
  }
  out += "      }";
  return out;
}

std::string legacy_document(const std::vector<std::string_view>& attributions,
                            const std::vector<std::string>& results) {
  std::string out = "{\n   \"html_attributions\" : [";
  for (std::size_t i = 0; i < attributions.size(); ++i)
    out += (i ? ", " : " ") + quoted(attributions[i]);
  out += attributions.empty() ? "],\n   \"results\" : [" : " ],\n   \"results\" : [";
  for (std::size_t k = 0; k < results.size(); ++k) out += (k ? ",\n" : "\n") + results[k];
  out += results.empty() ? "],\n   \"status\" : \"ZERO_RESULTS\"\n}"
                         : "\n   ],\n   \"status\" : \"OK\"\n}";
  return out;
}

}  // namespace herd
