#pragma once
// The places-provider interface (PROTOCOL.md section 4). One provider instance belongs
// to one worker loop and is called only on that loop's thread.
#include <functional>
#include <string>
#include <string_view>

#include "core/geo.hpp"

namespace herd {

struct PlacesQuery {
  Location at;
  std::string_view location_text;  // the record's ISO 6709 text, as received
  double radius_km = 0;
  int bound = 0;
};

class PlacesProvider {
 public:
  // Receives the normalised legacy-shape JSON (no trailing newlines).
  using Done = std::function<void(std::string json)>;

  virtual ~PlacesProvider() = default;

  // Either answers at once (fills json, returns true; done is not called), or starts a
  // lookup and returns false; then done is called exactly once, later, on this loop,
  // with a JSON object of the legacy shape (an error object if the lookup failed),
  // unless the provider is destroyed first.
  virtual bool lookup(const PlacesQuery& query, std::string& json, Done done) = 0;

  virtual std::string_view name() const = 0;
};

}  // namespace herd
