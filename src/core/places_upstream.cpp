#include "core/places_upstream.hpp"

#include <algorithm>

#include "core/places_google.hpp"
#include "core/places_json.hpp"
#include "core/places_wikipedia.hpp"
#include "core/places_x.hpp"
#include "core/url.hpp"

namespace herd {

std::string_view status_for_http(long http_status) {
  switch (http_status) {
    case 400:
      return "INVALID_REQUEST";
    case 401:
    case 403:
      return "REQUEST_DENIED";
    case 429:
      return "OVER_QUERY_LIMIT";
    default:
      return "UNKNOWN_ERROR";
  }
}

double searched_radius_km(PlacesProviderKind provider, double radius_km) {
  switch (provider) {
    case PlacesProviderKind::x:
      return std::clamp(radius_km, kXMinRadiusKm, kXMaxRadiusKm);
    case PlacesProviderKind::wikipedia:
      return std::clamp(radius_km, kWikipediaMinRadiusKm, kWikipediaMaxRadiusKm);
    default:
      return radius_km;
  }
}

std::string places_reply_json(const UpstreamQuery& q, const UpstreamResult& r) {
  if (!r.transport_ok) return error_places_json("UNKNOWN_ERROR", r.transport_error);
  std::string out, why;
  switch (q.provider) {
    case PlacesProviderKind::x:
      if (translate_x_json(r, q.bound, out, &why)) return out;
      break;
    case PlacesProviderKind::wikipedia: {
      const std::string_view site = url_host(q.endpoint.empty() ? kWikipediaEndpoint : q.endpoint);
      if (translate_wikipedia_json(r, q.at, q.radius_km, q.bound, site, out, &why)) return out;
      break;
    }
    case PlacesProviderKind::google_legacy:
    case PlacesProviderKind::google:
    case PlacesProviderKind::offline:
      return google_reply_json(q.provider == PlacesProviderKind::google_legacy, r, q.bound);
  }
  return error_places_json("UNKNOWN_ERROR", why);
}

}  // namespace herd
