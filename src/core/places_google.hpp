#pragma once
// Google Places answers turned into what a WHATSAT reply carries (PROTOCOL.md section
// 4). Pure: bodies in, legacy-shape JSON text out; no I/O.
#include <string>
#include <string_view>

#include "core/places_upstream.hpp"

namespace herd {

// A legacy Nearby Search body (`google-legacy`): checked to be a JSON object with a
// string `status` and an array `results` (when present); `results` is cut to its first
// `bound` entries and every other byte is kept. On a bad body returns false and sets
// *error to what is wrong.
bool trim_legacy_json(std::string_view body, int bound, std::string& out, std::string* error);

// A Places API (New) searchNearby body (`google`): translated into the legacy shape with
// at most `bound` results. A `{"error": {...}}` body becomes the matching legacy status
// with its message. Returns false with *error on a body of neither shape.
bool translate_new_json(std::string_view body, long http_status, int bound, std::string& out,
                        std::string* error);

// The reply JSON of either Google provider for one exchange (see places_reply_json).
std::string google_reply_json(bool legacy, const UpstreamResult& r, int bound);

}  // namespace herd
