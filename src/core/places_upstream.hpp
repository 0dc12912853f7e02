#pragma once
// One upstream places lookup's outcome, and what a WHATSAT reply carries for it, whatever
// the provider (PROTOCOL.md section 4). Pure.
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/geo.hpp"

namespace herd {

// The outcome of one upstream HTTP exchange, as the HTTP client reports it.
struct UpstreamResult {
  bool transport_ok = false;  // a complete HTTP response arrived
  long http_status = 0;
  std::string transport_error;  // what went wrong when !transport_ok (time-out, refused...)
  std::string body;
  std::string rate_limit_reset;  // X's x-rate-limit-reset header (epoch seconds), if sent
};

// What one waiter of a lookup asked: the provider, the client's location, the radius and
// the bound.
struct UpstreamQuery {
  PlacesProviderKind provider = PlacesProviderKind::google;
  std::string_view endpoint;  // places.endpoint ("": the provider's own)
  Location at;
  double radius_km = 0;
  int bound = 0;
};

// The legacy status word for an HTTP error status: 400 INVALID_REQUEST, 401/403
// REQUEST_DENIED, 429 OVER_QUERY_LIMIT, anything else UNKNOWN_ERROR.
std::string_view status_for_http(long http_status);

// The radius a provider's API is asked to search for a WHATSAT of radius_km (X and
// GeoSearch cap it; see places_x.hpp and places_wikipedia.hpp).
double searched_radius_km(PlacesProviderKind provider, double radius_km);

// What a client gets for one upstream exchange: the provider's JSON (trimmed or
// translated, in the legacy shape) or an error object (error_places_json) with the
// status word of section 4. Never fails.
std::string places_reply_json(const UpstreamQuery& q, const UpstreamResult& r);

}  // namespace herd
