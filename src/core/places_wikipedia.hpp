#pragma once
// The `wikipedia` provider's pure half (PROTOCOL.md section 4): the MediaWiki GeoSearch
// request for a WHATSAT (any MediaWiki site's api.php), and its answer translated into
// the legacy Nearby Search shape, nearest article first. No key.
#include <string>
#include <string_view>

#include "core/geo.hpp"
#include "core/places_upstream.hpp"

namespace herd {

// GeoSearch takes radii of 10 m to 10 km: a WHATSAT asking for more is answered with
// the articles within 10 km; one asking for less than 10 m searches 10 m and keeps the
// articles within the radius asked. Either way every result is within the radius asked.
constexpr double kWikipediaMaxRadiusKm = 10.0;
constexpr double kWikipediaMinRadiusKm = 0.01;
constexpr std::string_view kWikipediaEndpoint = "https://en.wikipedia.org/w/api.php";

// GET URL of a geosearch around lat,lng (decimal degrees as text, no '+') with the
// articles' coordinates, short descriptions and URLs, in one request.
std::string wikipedia_search_url(std::string_view endpoint, std::string_view lat,
                                 std::string_view lng, double radius_km);

// Translates a MediaWiki answer (any HTTP status) into the legacy shape: at most `bound`
// articles within radius_km of `at`, nearest first. MediaWiki's {"error": {...}} bodies
// become error objects; `site` (the endpoint's host) is credited in the attributions.
// Returns false with *error on a 200 body that is not a query answer.
bool translate_wikipedia_json(const UpstreamResult& r, Location at, double radius_km, int bound,
                              std::string_view site, std::string& out, std::string* error);

}  // namespace herd
