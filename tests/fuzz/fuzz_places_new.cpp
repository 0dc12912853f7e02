// Fuzzes Places API (New) translation and the reply of both providers: whatever the body
// and HTTP status, the client gets a JSON object of the legacy shape.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/places_google.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static const long kStatuses[] = {200, 400, 401, 403, 429, 500, 503};
  UpstreamResult r;
  r.transport_ok = (data[0] & 1) != 0;
  r.http_status = kStatuses[data[0] % 7];
  r.transport_error = "fuzz";
  const int bound = 1 + data[1] % 20;
  r.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  for (bool legacy : {false, true}) {
    std::string json = google_reply_json(legacy, r, bound);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(json).get(doc) != simdjson::SUCCESS) std::abort();
    std::string_view status;
    if (!legacy && doc["status"].get(status) != simdjson::SUCCESS) std::abort();
    simdjson::dom::array results;
    if (!legacy &&
        (doc["results"].get(results) != simdjson::SUCCESS || results.size() > std::size_t(bound)))
      std::abort();
  }
  return 0;
}
