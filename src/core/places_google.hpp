#pragma once
// Google Places answers turned into what a WHATSAT reply carries (PROTOCOL.md section
// 4). Pure: bodies in, legacy-shape JSON text out; no I/O.
#include <string>
#include <string_view>

namespace herd {

// The outcome of one upstream HTTP exchange, as the HTTP client reports it.
struct UpstreamResult {
  bool transport_ok = false;  // a complete HTTP response arrived
  long http_status = 0;
  std::string transport_error;  // what went wrong when !transport_ok (time-out, refused...)
  std::string body;
};

// The legacy status word for an HTTP error status: 400 INVALID_REQUEST, 401/403
// REQUEST_DENIED, 429 OVER_QUERY_LIMIT, anything else UNKNOWN_ERROR.
std::string_view status_for_http(long http_status);

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

// What a client gets for one upstream exchange of either provider: the provider's JSON
// (trimmed or translated) or an error object (error_places_json) with the status word
// of section 4. Never fails.
std::string places_reply_json(bool legacy, const UpstreamResult& r, int bound);

}  // namespace herd
