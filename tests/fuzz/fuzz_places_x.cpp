// Fuzzes the x provider's translation: whatever the body, HTTP status and rate-limit
// header, the client gets a JSON object of the legacy shape with a status word and at
// most `bound` results, each with a name, a place id and a location.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/places_upstream.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static const long kStatuses[] = {200, 200, 200, 400, 401, 403, 429, 500};
  UpstreamResult r;
  r.transport_ok = (data[0] & 0x80) == 0;
  r.http_status = kStatuses[data[0] % 8];
  r.transport_error = "fuzz";
  const int bound = 1 + data[1] % 20;
  const std::size_t reset_len = data[2] % 16;
  const std::size_t header = 3 + std::min(reset_len, size - 3);
  r.rate_limit_reset.assign(reinterpret_cast<const char*>(data + 3), header - 3);
  r.body.assign(reinterpret_cast<const char*>(data + header), size - header);
  const std::string json =
      places_reply_json(UpstreamQuery{PlacesProviderKind::x, "", {34, -118}, 10, bound}, r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) std::abort();
  std::string_view status;
  simdjson::dom::array results;
  if (doc["status"].get(status) != simdjson::SUCCESS ||
      doc["results"].get(results) != simdjson::SUCCESS || results.size() > std::size_t(bound))
    std::abort();
  for (simdjson::dom::element e : results) {
    double lat = 0;
    std::string_view s;
    if (e["geometry"]["location"]["lat"].get(lat) != simdjson::SUCCESS ||
        e["name"].get(s) != simdjson::SUCCESS || e["place_id"].get(s) != simdjson::SUCCESS)
      std::abort();
  }
  return 0;
}
