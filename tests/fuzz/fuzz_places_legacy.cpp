// Fuzzes Google legacy (Nearby Search) trimming: an accepted body gives valid JSON with at
// most `bound` results, and no blank line.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/places_google.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int bound = 1 + data[0] % 20;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string out, error;
  if (!trim_legacy_json(body, bound, out, &error)) return 0;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(out).get(doc) != simdjson::SUCCESS) std::abort();
  simdjson::dom::array results;
  if (doc["results"].get(results) == simdjson::SUCCESS && results.size() > std::size_t(bound))
    std::abort();
  if (out.find("\n\n") != std::string::npos) std::abort();
  return 0;
}
