#pragma once
// Builds JSON in Google's legacy Nearby Search shape (PROTOCOL.md section 4), for the
// providers that translate another API's answer. Pure.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herd {

// A latitude in [-90, 90] and a longitude in [-180, 180] (an upstream's point outside
// them cannot be placed).
bool on_earth(double lat, double lng);

// One entry of "results", laid out like Google's pretty-printer: members in
// alphabetical order, three-space indentation, strings escaped.
class LegacyResult {
 public:
  LegacyResult& location(double lat, double lng);  // "geometry" : {"location" : ...}
  LegacyResult& string(std::string_view key, std::string_view value);
  LegacyResult& number(std::string_view key, double value);
  LegacyResult& integer(std::string_view key, std::int64_t value);
  LegacyResult& strings(std::string_view key, const std::vector<std::string_view>& values);
  // "      {\n ... \n      }"
  std::string text() const;

 private:
  std::vector<std::pair<std::string, std::string>> members_;  // key, rendered value
};

// The whole answer: attributions (strings), the results, and status OK, or ZERO_RESULTS
// when there are none.
std::string legacy_document(const std::vector<std::string_view>& attributions,
                            const std::vector<std::string>& results);

}  // namespace herd
