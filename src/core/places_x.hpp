#pragma once
// The `x` provider's pure half (PROTOCOL.md section 4): the X API v2 recent-search
// request for a WHATSAT, and X's answer translated into the legacy Nearby Search shape,
// newest post first.
#include <string>
#include <string_view>

#include "core/places_upstream.hpp"

namespace herd {

// X's point_radius operator takes at most 25 miles: a WHATSAT asking for more is
// answered with the posts within 40 km (every one of them is within the radius asked).
// The radius goes in km with three decimals: one under a metre searches a metre.
constexpr double kXMaxRadiusKm = 40.0;
constexpr double kXMinRadiusKm = 0.001;
// Posts asked for per search (X takes 10 to 100): the most a WHATSAT can want, so one
// search serves every bound of the lookups it coalesces.
constexpr int kXMaxResults = 20;

// GET URL of a recent search around lat,lng (decimal degrees as text, no '+').
std::string x_search_url(std::string_view endpoint, std::string_view lat, std::string_view lng,
                         double radius_km);

// Translates an X answer (any HTTP status) into the legacy shape with at most `bound`
// results. HTTP errors and X's {"errors": [...]} bodies become error objects with the
// matching status word (429: with the reset time, rate_limit_reset being X's
// x-rate-limit-reset header, epoch seconds, or empty). Returns false with *error on a 200
// body that is not a search answer.
bool translate_x_json(const UpstreamResult& r, int bound, std::string& out, std::string* error);

}  // namespace herd
