// The x and wikipedia providers' pure halves (PROTOCOL.md section 4): the requests they
// send and their answers translated into the legacy shape, every failure included.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/places_json.hpp"
#include "core/places_upstream.hpp"
#include "core/places_wikipedia.hpp"
#include "core/places_x.hpp"
#include "core/url.hpp"

using namespace herd;

namespace {

const Location kUcla{34.068930, -118.445127};

UpstreamResult ok(std::string body, long status = 200) {
  UpstreamResult r;
  r.transport_ok = true;
  r.http_status = status;
  r.body = std::move(body);
  return r;
}

// The reply as a parsed document, checked to be of the legacy shape.
struct Reply {
  std::string text;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;

  explicit Reply(std::string t) : text(std::move(t)) {
    REQUIRE_MESSAGE(parser.parse(text).get(doc) == simdjson::SUCCESS, text);
    simdjson::dom::array a;
    REQUIRE_MESSAGE(doc["results"].get(a) == simdjson::SUCCESS, text);
    REQUIRE_MESSAGE(doc["html_attributions"].get(a) == simdjson::SUCCESS, text);
  }
  std::string status() const { return std::string(doc["status"].get_string().value()); }
  std::string message() const {
    std::string_view m;
    return doc["error_message"].get(m) == simdjson::SUCCESS ? std::string(m) : "";
  }
  std::size_t count() const { return doc["results"].get_array().value().size(); }
  simdjson::dom::element result(std::size_t i) const {
    return doc["results"].get_array().value().at(i).value();
  }
  std::string str(std::size_t i, const char* key) const {
    return std::string(result(i)[key].get_string().value());
  }
  double lat(std::size_t i) const {
    return result(i)["geometry"]["location"]["lat"].get_double().value();
  }
  double lng(std::size_t i) const {
    return result(i)["geometry"]["location"]["lng"].get_double().value();
  }
};

std::string x_reply(const UpstreamResult& r, int bound) {
  return places_reply_json(UpstreamQuery{PlacesProviderKind::x, "", kUcla, 10, bound}, r);
}

std::string wiki_reply(const UpstreamResult& r, int bound, double radius_km = 10,
                       std::string_view endpoint = "") {
  return places_reply_json(
      UpstreamQuery{PlacesProviderKind::wikipedia, endpoint, kUcla, radius_km, bound}, r);
}

// Posts out of order: 3 has a point, 1 only a place with a box, 2 a place without a box
// and no point (left out), 4 a point and an unknown author.
const char* kXBody = R"json({
  "data": [
    {"id": "1862000000000000001", "text": "older, placed by its box", "created_at": "2026-11-29T10:00:00.000Z",
     "author_id": "7", "geo": {"place_id": "pl1"}},
    {"id": "1862000000000000003", "text": "newest \"quoted\"\nline two\ttab", "created_at": "2026-11-29T12:00:00.000Z",
     "author_id": "8", "geo": {"place_id": "pl1", "coordinates": {"type": "Point", "coordinates": [-118.44, 34.07]}}},
    {"id": "1862000000000000002", "text": "no location", "author_id": "7", "geo": {"place_id": "pl2"}},
    {"id": "186200000000000000", "text": "oldest (shorter id)", "author_id": "99",
     "geo": {"coordinates": {"type": "Point", "coordinates": [-118.5, 34.0]}}}
  ],
  "includes": {
    "users": [{"id": "7", "username": "alice", "name": "Alice"}, {"id": "8", "username": "bob"}],
    "places": [{"id": "pl1", "full_name": "Westwood, Los Angeles", "geo": {"type": "Feature", "bbox": [-118.46, 34.05, -118.42, 34.09], "properties": {}}},
               {"id": "pl2", "full_name": "Nowhere"}]
  },
  "errors": [{"title": "Not Found Error", "detail": "Could not find place", "type": "https://api.twitter.com/2/problems/resource-not-found"}],
  "meta": {"result_count": 4}
})json";

}  // namespace

TEST_CASE("url helpers: percent-encoding, host, joining a query") {
  std::string out;
  append_url_encoded(out, "point_radius:[-1.5 2 3km]~a_b.c");
  CHECK(out == "point_radius%3A%5B-1.5%202%203km%5D~a_b.c");
  CHECK(url_host("https://en.wikipedia.org/w/api.php") == "en.wikipedia.org");
  CHECK(url_host("http://user@127.0.0.1:8080/x?y") == "127.0.0.1");
  CHECK(url_host("http://[::1]:9/x") == "[::1]");
  CHECK(url_host("nonsense") == "");
  CHECK(url_with_query("http://h/p", "a=1") == "http://h/p?a=1");
  CHECK(url_with_query("http://h/p?k=v", "a=1") == "http://h/p?k=v&a=1");
}

TEST_CASE("x: the request names the point longitude first, in km, capped at 40 km") {
  const std::string url = x_search_url("", "34.068930", "-118.445127", 10);
  CHECK(url.rfind("https://api.x.com/2/tweets/search/recent?query=", 0) == 0);
  CHECK(url.find("query=point_radius%3A%5B-118.445127%2034.068930%2010km%5D&") !=
        std::string::npos);
  CHECK(url.find("&max_results=20&") != std::string::npos);
  CHECK(url.find("tweet.fields=created_at,geo,author_id") != std::string::npos);
  CHECK(url.find("expansions=author_id,geo.place_id") != std::string::npos);
  CHECK(url.find("place.fields=full_name,geo") != std::string::npos);
  CHECK(x_search_url("", "1", "2", 45).find("%5B2%201%2040km%5D") != std::string::npos);
  CHECK(x_search_url("", "1", "2", 0.0015).find("%5B2%201%200.002km%5D") != std::string::npos);
  CHECK(x_search_url("http://127.0.0.1:9/s?v=1", "1", "2", 5)
            .rfind("http://127.0.0.1:9/s?v=1&query=", 0) == 0);
  CHECK(searched_radius_km(PlacesProviderKind::x, 50) == 40);
  CHECK(searched_radius_km(PlacesProviderKind::x, 12.5) == 12.5);
  CHECK(x_search_url("", "1", "2", 0.0001).find("%5B2%201%200.001km%5D") != std::string::npos);
}

TEST_CASE("x: posts newest first, placed by their point or their place's box, text escaped") {
  Reply r(x_reply(ok(kXBody), 20));
  CHECK(r.status() == "OK");
  REQUIRE(r.count() == 3);
  CHECK(r.str(0, "place_id") == "1862000000000000003");
  CHECK(r.str(0, "name") == "newest \"quoted\"\nline two\ttab");
  CHECK(r.str(0, "author") == "bob");
  CHECK(r.str(0, "created_at") == "2026-11-29T12:00:00.000Z");
  CHECK(r.str(0, "vicinity") == "Westwood, Los Angeles");
  CHECK(r.lat(0) == doctest::Approx(34.07));
  CHECK(r.lng(0) == doctest::Approx(-118.44));
  CHECK(r.str(1, "place_id") == "1862000000000000001");
  CHECK(r.str(1, "author") == "alice");
  CHECK(r.lat(1) == doctest::Approx(34.07));  // the box's centre
  CHECK(r.lng(1) == doctest::Approx(-118.44));
  CHECK(r.str(2, "place_id") == "186200000000000000");
  CHECK(r.str(2, "author") == "");
  CHECK(r.str(2, "vicinity") == "");
  simdjson::dom::array types = r.result(0)["types"].get_array().value();
  CHECK(types.size() == 1);
  CHECK(types.at(0).get_string().value() == "post");
  CHECK(std::string(r.doc["html_attributions"].at(0).get_string().value()).find("X") !=
        std::string::npos);
  for (int bound : {1, 2}) {
    Reply cut(x_reply(ok(kXBody), bound));
    CHECK(cut.count() == static_cast<std::size_t>(bound));
    CHECK(cut.str(0, "place_id") == "1862000000000000003");
  }
}

TEST_CASE("x: twenty posts, bounds 1, 5 and 20") {
  std::string body = "{\"data\": [";
  for (int i = 0; i < 20; ++i) {
    body += (i ? "," : "") + std::string("{\"id\": \"10") + (i < 10 ? "0" : "") +
            std::to_string(i) +
            "\", \"text\": \"t\", \"geo\": {\"coordinates\": {\"coordinates\": [1, 2]}}}";
  }
  body += "]}";
  for (int bound : {1, 5, 20}) {
    Reply r(x_reply(ok(body), bound));
    REQUIRE(r.count() == static_cast<std::size_t>(bound));
    CHECK(r.str(0, "place_id") == "1019");  // newest first
    CHECK(r.str(static_cast<std::size_t>(bound) - 1, "place_id") ==
          "10" + std::string(20 - bound < 10 ? "0" : "") + std::to_string(20 - bound));
  }
}

TEST_CASE("x: no posts is ZERO_RESULTS") {
  Reply r(x_reply(ok(R"({"meta": {"result_count": 0}})"), 5));
  CHECK(r.status() == "ZERO_RESULTS");
  CHECK(r.count() == 0);
  Reply only_unplaced(x_reply(ok(R"({"data": [{"id": "1", "text": "nowhere"}]})"), 5));
  CHECK(only_unplaced.status() == "ZERO_RESULTS");
  // A point off the Earth cannot place a post either.
  Reply off_earth(x_reply(
      ok(R"({"data": [{"id": "1", "text": "t", "geo": {"coordinates": {"coordinates": [500, 1e300]}}}]})"),
      5));
  CHECK(off_earth.status() == "ZERO_RESULTS");
}

TEST_CASE("x: HTTP errors map like Google's, 429 with the reset time") {
  auto r401 = ok(
      R"({"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"})", 401);
  Reply denied(x_reply(r401, 5));
  CHECK(denied.status() == "REQUEST_DENIED");
  CHECK(denied.message() == "X answered HTTP 401: Unauthorized");
  CHECK(Reply(x_reply(ok("<html>forbidden</html>", 403), 5)).status() == "REQUEST_DENIED");
  auto r429 = ok(
      R"({"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429})",
      429);
  r429.rate_limit_reset = "1796000000";
  Reply limited(x_reply(r429, 5));
  CHECK(limited.status() == "OVER_QUERY_LIMIT");
  CHECK(limited.message().find("resets at 2026-11-30T") != std::string::npos);
  CHECK(limited.message().find("1796000000") != std::string::npos);
  r429.rate_limit_reset = "soon; DROP TABLE";
  CHECK(Reply(x_reply(r429, 5)).message().find("no reset time given") != std::string::npos);
  Reply bad(x_reply(
      ok(R"({"errors":[{"message":"Radius must be less than 25 miles"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"})",
         400),
      5));
  CHECK(bad.status() == "INVALID_REQUEST");
  CHECK(bad.message().find("One or more parameters") != std::string::npos);
  CHECK(Reply(x_reply(ok("", 500), 5)).status() == "UNKNOWN_ERROR");
  CHECK(Reply(x_reply(ok("{}", 503), 5)).message() == "X answered HTTP 503");
}

TEST_CASE("x: an answer of errors only, with HTTP 200, is an error by its problem type") {
  auto errors = [](const char* type) {
    return ok(
        std::string(
            R"({"errors": [{"title": "T", "detail": "what happened", "type": "https://api.twitter.com/2/problems/)") +
        type + "\"}]}");
  };
  CHECK(Reply(x_reply(errors("invalid-request"), 5)).status() == "INVALID_REQUEST");
  CHECK(Reply(x_reply(errors("usage-capped"), 5)).status() == "OVER_QUERY_LIMIT");
  CHECK(Reply(x_reply(errors("client-forbidden"), 5)).status() == "REQUEST_DENIED");
  CHECK(Reply(x_reply(errors("not-authorized-for-resource"), 5)).status() == "REQUEST_DENIED");
  Reply other(x_reply(errors("something-new"), 5));
  CHECK(other.status() == "UNKNOWN_ERROR");
  CHECK(other.message() == "what happened");
}

TEST_CASE("x: bodies of the wrong shape are UNKNOWN_ERROR, never a broken reply") {
  for (const char* body : {"<html>", "[1,2]", R"({"data": 42})", R"({"data": [42]})",
                           R"({"data": [{"id": "1"}]})", R"({"data": [{"text": "t"}]})"}) {
    Reply r(x_reply(ok(body), 5));
    CHECK_MESSAGE(r.status() == "UNKNOWN_ERROR", body);
  }
  UpstreamResult refused;
  refused.transport_error = "cannot reach the provider: Connection refused";
  Reply r(x_reply(refused, 5));
  CHECK(r.status() == "UNKNOWN_ERROR");
  CHECK(r.message() == refused.transport_error);
}

TEST_CASE(
    "wikipedia: one request for coordinates, descriptions and URLs; radius within 10 m..10 km") {
  const std::string url = wikipedia_search_url("", "34.068930", "-118.445127", 2.5);
  CHECK(url.rfind("https://en.wikipedia.org/w/api.php?action=query&", 0) == 0);
  CHECK(url.find(
            "&generator=geosearch&ggscoord=34.068930%7C-118.445127&ggsradius=2500&ggslimit=20&") !=
        std::string::npos);
  CHECK(url.find("prop=coordinates%7Cdescription%7Cinfo") != std::string::npos);
  CHECK(url.find("&inprop=url") != std::string::npos);
  CHECK(url.find("&colimit=max") != std::string::npos);
  CHECK(url.find("formatversion=2") != std::string::npos);
  CHECK(wikipedia_search_url("", "1", "2", 45).find("&ggsradius=10000&") != std::string::npos);
  CHECK(wikipedia_search_url("", "1", "2", 0.001).find("&ggsradius=10&") != std::string::npos);
  CHECK(wikipedia_search_url("https://de.wikipedia.org/w/api.php", "1", "2", 1)
            .rfind("https://de.wikipedia.org/w/api.php?action=query", 0) == 0);
}

namespace {
// Pages out of order, one without coordinates, one missing, one without a description.
std::string wiki_body(bool as_object = false) {
  const char* pages[] = {
      R"({"pageid": 30, "title": "Far", "coordinates": [{"lat": 34.11, "lon": -118.445127, "primary": true}], "description": "about 4.6 km", "fullurl": "https://en.wikipedia.org/wiki/Far"})",
      R"({"pageid": 10, "title": "Near \"Hall\"", "coordinates": [{"lat": 34.0690, "lon": -118.4451}], "description": "a building", "fullurl": "https://en.wikipedia.org/wiki/Near"})",
      R"({"pageid": 20, "title": "Middle", "coordinates": [{"lat": 34.08, "lon": -118.445127}]})",
      R"({"pageid": 40, "title": "No coordinates"})",
      R"({"ns": 0, "title": "Missing", "missing": true})"};
  std::string s = as_object ? R"({"batchcomplete": "", "query": {"pages": {)"
                            : R"({"batchcomplete": true, "query": {"pages": [)";
  for (std::size_t i = 0; i < 5; ++i) {
    if (i) s += ",";
    if (as_object) s += "\"" + std::to_string(i) + "\": ";
    s += pages[i];
  }
  return s + (as_object ? "}}}" : "]}}");
}
}  // namespace

TEST_CASE("wikipedia: articles nearest first, placed, described, linked") {
  for (bool as_object : {false, true}) {
    Reply r(wiki_reply(ok(wiki_body(as_object)), 20));
    CHECK(r.status() == "OK");
    REQUIRE(r.count() == 3);
    CHECK(r.str(0, "name") == "Near \"Hall\"");
    CHECK(r.str(0, "place_id") == "wikipedia:10");
    CHECK(r.str(0, "vicinity") == "a building");
    CHECK(r.str(0, "url") == "https://en.wikipedia.org/wiki/Near");
    CHECK(r.lat(0) == doctest::Approx(34.069));
    CHECK(r.str(1, "name") == "Middle");
    CHECK(r.str(1, "vicinity") == "");
    CHECK(r.result(1)["url"].error() == simdjson::NO_SUCH_FIELD);
    CHECK(r.str(2, "name") == "Far");
    CHECK(r.result(0)["types"].at(0).get_string().value() == "article");
    const std::string credit(r.doc["html_attributions"].at(0).get_string().value());
    CHECK(credit.find("Wikipedia (en.wikipedia.org)") != std::string::npos);
    CHECK(credit.find("CC BY-SA") != std::string::npos);
  }
  CHECK(Reply(wiki_reply(ok(wiki_body()), 1)).count() == 1);
  CHECK(Reply(wiki_reply(ok(wiki_body()), 2)).str(1, "name") == "Middle");
  const std::string credit(
      Reply(wiki_reply(ok(wiki_body()), 1, 10, "https://de.wikipedia.org/w/api.php"))
          .doc["html_attributions"]
          .at(0)
          .get_string()
          .value());
  CHECK(credit.find("de.wikipedia.org") != std::string::npos);
}

TEST_CASE("wikipedia: only articles within the radius asked") {
  // Asked 1.5 km: Far (4.6 km) is left out although GeoSearch searched 1.5 km too.
  Reply r(wiki_reply(ok(wiki_body()), 20, 1.5));
  CHECK(r.count() == 2);
  // Asked 5 m, searched 10 m: Near (about 3 m away) stays, an article 8 m away goes.
  const std::string body = R"({"query": {"pages": [
      {"pageid": 1, "title": "3 m", "coordinates": [{"lat": 34.068957, "lon": -118.445127}]},
      {"pageid": 2, "title": "8 m", "coordinates": [{"lat": 34.069002, "lon": -118.445127}]}]}})";
  Reply tiny(wiki_reply(ok(body), 20, 0.005));
  REQUIRE(tiny.count() == 1);
  CHECK(tiny.str(0, "name") == "3 m");
}

TEST_CASE("wikipedia: nothing found is ZERO_RESULTS") {
  Reply r(wiki_reply(ok(R"({"batchcomplete": true})"), 5));
  CHECK(r.status() == "ZERO_RESULTS");
  CHECK(r.count() == 0);
  CHECK(Reply(wiki_reply(ok(R"({"query": {"pages": []}})"), 5)).status() == "ZERO_RESULTS");
}

TEST_CASE("wikipedia: MediaWiki errors and HTTP errors map to status words") {
  auto error = [](const char* code) {
    return ok(std::string(R"({"error": {"code": ")") + code +
              R"(", "info": "what happened", "docref": "See"}, "servedby": "mw"})");
  };
  CHECK(Reply(wiki_reply(error("ratelimited"), 5)).status() == "OVER_QUERY_LIMIT");
  CHECK(Reply(wiki_reply(error("maxlag"), 5)).status() == "OVER_QUERY_LIMIT");
  CHECK(Reply(wiki_reply(error("readapidenied"), 5)).status() == "REQUEST_DENIED");
  CHECK(Reply(wiki_reply(error("badinteger"), 5)).status() == "INVALID_REQUEST");
  CHECK(Reply(wiki_reply(error("invalid-coord"), 5)).status() == "INVALID_REQUEST");
  Reply internal(wiki_reply(error("internal_api_error_DBQueryError"), 5));
  CHECK(internal.status() == "UNKNOWN_ERROR");
  CHECK(internal.message() ==
        "en.wikipedia.org reported an error (internal_api_error_DBQueryError): what happened");
  CHECK(Reply(wiki_reply(ok("<html>maintenance</html>", 503), 5)).status() == "UNKNOWN_ERROR");
  Reply ua(wiki_reply(ok("Please set a user-agent", 403), 5));
  CHECK(ua.status() == "REQUEST_DENIED");
  CHECK(ua.message() == "en.wikipedia.org answered HTTP 403");
  CHECK(Reply(wiki_reply(ok("", 429), 5)).status() == "OVER_QUERY_LIMIT");
  CHECK(Reply(wiki_reply(ok("", 400), 5)).status() == "INVALID_REQUEST");
}

TEST_CASE("wikipedia: bodies of the wrong shape are UNKNOWN_ERROR") {
  for (const char* body :
       {"<html>", "[]", R"({"query": 1})", R"({"query": {"pages": 42}})", R"({"query": {}})"}) {
    Reply r(wiki_reply(ok(body), 5));
    CHECK_MESSAGE(r.status() == "UNKNOWN_ERROR", body);
  }
  // Coordinates of the wrong type, huge or missing: the page is left out, the reply holds.
  Reply odd(wiki_reply(ok(R"({"query": {"pages": [
      {"pageid": 1, "title": "a", "coordinates": [{"lat": "x", "lon": 1}]},
      {"pageid": 2, "title": "b", "coordinates": [{"lat": 1e308, "lon": 1e308}]},
      {"pageid": 3, "title": "c", "coordinates": []},
      {"pageid": 4, "title": "d", "coordinates": [7]}]}})"),
                       5));
  CHECK(odd.status() == "ZERO_RESULTS");
}
