// Fuzzes the wikipedia provider's translation: whatever the body and HTTP status, the
// client gets a JSON object of the legacy shape with a status word and at most `bound`
// results, nearest first, none farther than the radius asked.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/geo.hpp"
#include "core/places_upstream.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static const long kStatuses[] = {200, 200, 200, 400, 403, 429, 503};
  UpstreamResult r;
  r.transport_ok = (data[0] & 0x80) == 0;
  r.http_status = kStatuses[data[0] % 7];
  r.transport_error = "fuzz";
  const int bound = 1 + data[1] % 20;
  const double radius_km = 0.001 + data[2] % 50;
  r.body.assign(reinterpret_cast<const char*>(data + 3), size - 3);
  const Location at{48.85, 2.35};
  const std::string json =
      places_reply_json(UpstreamQuery{PlacesProviderKind::wikipedia, "", at, radius_km, bound}, r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) std::abort();
  std::string_view status;
  simdjson::dom::array results;
  if (doc["status"].get(status) != simdjson::SUCCESS ||
      doc["results"].get(results) != simdjson::SUCCESS || results.size() > std::size_t(bound))
    std::abort();
  double last = 0;
  for (simdjson::dom::element e : results) {
    double lat = 0, lng = 0;
    if (e["geometry"]["location"]["lat"].get(lat) != simdjson::SUCCESS ||
        e["geometry"]["location"]["lng"].get(lng) != simdjson::SUCCESS)
      std::abort();
    // Coordinates are printed with 7 decimals: allow for that rounding.
    const double km = distance_km(at, Location{lat, lng});
    if (km > radius_km + 0.01 || km + 0.01 < last) std::abort();
    last = km;
  }
  return 0;
}
