// Google answers into WHATSAT JSON (PROTOCOL.md section 4): trimming, translation, errors.
#include <doctest/doctest.h>

#include <string>

#include "core/places_google.hpp"
#include "core/places_json.hpp"

using namespace herd;

namespace {
const std::string kLegacy =
    "{\r\n   \"html_attributions\" : [],\r\n   \"next_page_token\" : \"tok\",\r\n   \"results\" : "
    "[\r\n"
    "      {\r\n         \"name\" : \"A [1]\",\r\n         \"types\" : [ \"x\", \"y\" ]\r\n      "
    "},\r\n\r\n"
    "      {\r\n         \"name\" : \"B \\\"]}\"\r\n      },\r\n\r\n"
    "      {\r\n         \"name\" : \"C\"\r\n      }\r\n   ],\r\n   \"status\" : \"OK\"\r\n}\r\n";
}

TEST_CASE("legacy bodies: results cut to the bound, every other byte kept, then normalised") {
  std::string out, err;
  REQUIRE(trim_legacy_json(kLegacy, 2, out, &err));
  CHECK(out ==
        "{\n   \"html_attributions\" : [],\n   \"next_page_token\" : \"tok\",\n   \"results\" : [\n"
        "      {\n         \"name\" : \"A [1]\",\n         \"types\" : [ \"x\", \"y\" ]\n      },\n"
        "      {\n         \"name\" : \"B \\\"]}\"\n      }\n   ],\n   \"status\" : \"OK\"\n}");
  out.clear();
  REQUIRE(trim_legacy_json(kLegacy, 1, out, &err));
  CHECK(out.find("\"B") == std::string::npos);
  CHECK(out.find("\"A [1]\"\n") == std::string::npos);  // the element is kept whole
  CHECK(out.find("      }\n   ],\n   \"status\" : \"OK\"") != std::string::npos);
  out.clear();
  REQUIRE(trim_legacy_json(kLegacy, 20, out, &err));  // fewer than the bound: all kept
  std::string all;
  append_normalized_json(all, kLegacy);
  CHECK(out == all);
}

TEST_CASE("legacy bodies of the wrong shape are errors") {
  std::string out, err;
  CHECK_FALSE(trim_legacy_json("<html>", 5, out, &err));
  CHECK(err == "the provider's answer is not JSON");
  CHECK_FALSE(trim_legacy_json("[1,2]", 5, out, &err));
  CHECK(err == "the provider's answer is not a JSON object");
  CHECK_FALSE(trim_legacy_json("{\"results\": []}", 5, out, &err));
  CHECK(err == "the provider's answer has no status string");
  CHECK_FALSE(trim_legacy_json("{\"status\": \"OK\", \"results\": 3}", 5, out, &err));
  out.clear();
  CHECK(trim_legacy_json("{\"status\" : \"ZERO_RESULTS\", \"results\" : []}", 5, out, &err));
  CHECK(out == "{\"status\" : \"ZERO_RESULTS\", \"results\" : []}");
}

TEST_CASE("Places API (New) answers are translated into the legacy shape") {
  const std::string body = R"({"places": [
    {"id": "P1", "displayName": {"text": "Caf\u00e9 \"One\"", "languageCode": "fr"},
     "location": {"latitude": 34.0736204, "longitude": -118.4003563},
     "shortFormattedAddress": "1 Main St", "formattedAddress": "1 Main St, Town",
     "types": ["cafe", "food"], "rating": 4.5, "userRatingCount": 120, "businessStatus": "OPERATIONAL"},
    {"id": "P2", "displayName": {"text": "Two"}, "location": {"latitude": 1, "longitude": 2},
     "formattedAddress": "2 Side St, Town"},
    {"id": "P3", "location": {"latitude": 1, "longitude": 2}}]})";
  std::string out, err;
  REQUIRE(translate_new_json(body, 200, 2, out, &err));
  CHECK(out ==
        "{\n   \"html_attributions\" : [],\n   \"results\" : [\n"
        "      {\n         \"business_status\" : \"OPERATIONAL\",\n"
        "         \"geometry\" : {\n            \"location\" : {\n               \"lat\" : "
        "34.0736204,\n"
        "               \"lng\" : -118.4003563\n            }\n         },\n"
        "         \"name\" : \"Caf\xc3\xa9 \\\"One\\\"\",\n         \"place_id\" : \"P1\",\n"
        "         \"rating\" : 4.5,\n         \"types\" : [ \"cafe\", \"food\" ],\n"
        "         \"user_ratings_total\" : 120,\n         \"vicinity\" : \"1 Main St\"\n      },\n"
        "      {\n         \"geometry\" : {\n            \"location\" : {\n               \"lat\" "
        ": 1.0,\n"
        "               \"lng\" : 2.0\n            }\n         },\n         \"name\" : \"Two\",\n"
        "         \"place_id\" : \"P2\",\n         \"types\" : [],\n         \"vicinity\" : \"2 "
        "Side St, Town\"\n"
        "      }\n   ],\n   \"status\" : \"OK\"\n}");
  out.clear();
  REQUIRE(translate_new_json("{}", 200, 5, out, &err));
  CHECK(out ==
        "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : "
        "\"ZERO_RESULTS\"\n}");
}

TEST_CASE("Google error bodies map to the legacy status word with their message") {
  std::string out, err;
  REQUIRE(translate_new_json(
      R"({"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}})",
      403, 5, out, &err));
  CHECK(out == error_places_json("REQUEST_DENIED", "API key not valid."));
  out.clear();
  REQUIRE(translate_new_json(
      R"({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})", 429, 5,
      out, &err));
  CHECK(out == error_places_json("OVER_QUERY_LIMIT", "quota"));
  out.clear();
  REQUIRE(translate_new_json(
      R"({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}})", 400, 5, out,
      &err));
  CHECK(out == error_places_json("INVALID_REQUEST", "bad"));
  out.clear();
  CHECK_FALSE(translate_new_json(R"({"places": 42})", 200, 5, out, &err));
  CHECK_FALSE(translate_new_json(R"({"places": [{"id": "x"}]})", 200, 5, out, &err));
  CHECK(err == "a place has no location");
}

TEST_CASE("every failure becomes a well-formed error object with the right status word") {
  auto status = [](bool legacy, UpstreamResult r) {
    std::string j = google_reply_json(legacy, r, 5);
    auto k = j.find("\"status\" : \"");
    return j.substr(k + 12, j.find('"', k + 12) - (k + 12));
  };
  UpstreamResult timeout;
  timeout.transport_error = "the provider did not answer within 300 ms";
  CHECK(status(true, timeout) == "UNKNOWN_ERROR");
  CHECK(google_reply_json(true, timeout, 5).find("did not answer within 300 ms") !=
        std::string::npos);
  for (auto [code, word] : {std::pair{400L, "INVALID_REQUEST"},
                            {401L, "REQUEST_DENIED"},
                            {403L, "REQUEST_DENIED"},
                            {429L, "OVER_QUERY_LIMIT"},
                            {500L, "UNKNOWN_ERROR"},
                            {503L, "UNKNOWN_ERROR"}}) {
    UpstreamResult r;
    r.transport_ok = true;
    r.http_status = code;
    r.body = "<html>error</html>";
    CAPTURE(code);
    CHECK(status(true, r) == word);
    CHECK(status(false, r) == word);
  }
  UpstreamResult garbage;
  garbage.transport_ok = true;
  garbage.http_status = 200;
  garbage.body = "not json";
  CHECK(status(true, garbage) == "UNKNOWN_ERROR");
  CHECK(status(false, garbage) == "UNKNOWN_ERROR");
  UpstreamResult denied;
  denied.transport_ok = true;
  denied.http_status = 200;
  denied.body =
      R"({"error_message" : "The provided API key is invalid.", "results" : [], "status" : "REQUEST_DENIED"})";
  CHECK(status(true, denied) == "REQUEST_DENIED");  // a legacy status is passed through
}
