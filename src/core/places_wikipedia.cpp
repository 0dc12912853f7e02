#include "core/places_wikipedia.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/decimal_format.hpp"
#include "core/places_json.hpp"
#include "core/places_legacy.hpp"
#include "core/url.hpp"

namespace herd {
namespace {

std::string_view get_string(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) return v;
  return {};
}

// MediaWiki error codes (https://www.mediawiki.org/wiki/API:Errors_and_warnings).
std::string_view status_for_code(std::string_view code) {
  if (code == "ratelimited" || code == "maxlag" || code == "toomanyvalues" ||
      code == "concurrency-limit")
    return "OVER_QUERY_LIMIT";
  if (code == "readapidenied" || code == "permissiondenied" || code == "blocked" ||
      code == "mwoauth-invalid-authorization" || code == "badtoken" || code == "assertuserfailed")
    return "REQUEST_DENIED";
  if (code.rfind("bad", 0) == 0 || code.rfind("invalid", 0) == 0 || code.rfind("missing", 0) == 0 ||
      code == "unknown_action" || code == "nosuchpageid" || code == "unrecognizedparams")
    return "INVALID_REQUEST";
  return "UNKNOWN_ERROR";
}

struct Article {
  std::int64_t pageid = 0;
  std::string_view title, description, url;
  double lat = 0, lng = 0, km = 0;
};

// Reads one page of query.pages; false if it cannot be placed (missing, no coordinates).
bool read_page(simdjson::dom::element p, Location at, Article& a) {
  if (!p.is_object()) return false;
  if (p["pageid"].get(a.pageid) != simdjson::SUCCESS) return false;  // missing/invalid page
  a.title = get_string(p, "title");
  a.description = get_string(p, "description");
  a.url = get_string(p, "fullurl");
  simdjson::dom::array coords;
  if (p["coordinates"].get(coords) != simdjson::SUCCESS || coords.size() == 0) return false;
  simdjson::dom::element c = coords.at(0).value_unsafe();
  if (!c.is_object() || c["lat"].get(a.lat) != simdjson::SUCCESS ||
      c["lon"].get(a.lng) != simdjson::SUCCESS)
    return false;
  if (!on_earth(a.lat, a.lng)) return false;
  a.km = distance_km(at, Location{a.lat, a.lng});
  return std::isfinite(a.km);
}

}  // namespace

std::string wikipedia_search_url(std::string_view endpoint, std::string_view lat,
                                 std::string_view lng, double radius_km) {
  const double km = searched_radius_km(PlacesProviderKind::wikipedia, radius_km);
  std::string q =
      "action=query&format=json&formatversion=2&generator=geosearch&ggscoord=" + std::string(lat) +
      "%7C" + std::string(lng) + "&ggsradius=";
  append_decimal(q, std::round(km * 1000.0), 0, TrailingZeros::drop_all);
  q += "&ggslimit=" + std::to_string(kMaxBound) +
       "&prop=coordinates%7Cdescription%7Cinfo&colimit=max&inprop=url";
  return url_with_query(endpoint.empty() ? kWikipediaEndpoint : endpoint, q);
}

bool translate_wikipedia_json(const UpstreamResult& r, Location at, double radius_km, int bound,
                              std::string_view site, std::string& out, std::string* error) {
  if (r.http_status != 200) {
    out += error_places_json(status_for_http(r.http_status),
                             std::string(site) + " answered HTTP " + std::to_string(r.http_status));
    return true;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.body.data(), r.body.size()).get(doc) != simdjson::SUCCESS ||
      !doc.is_object()) {
    *error = std::string(site) + "'s answer is not a JSON object";
    return false;
  }
  simdjson::dom::element err;
  if (doc["error"].get(err) == simdjson::SUCCESS) {
    std::string_view code = err.is_object() ? get_string(err, "code") : std::string_view{};
    std::string_view info = err.is_object() ? get_string(err, "info") : std::string_view{};
    std::string msg = std::string(site) + " reported an error";
    if (!code.empty()) msg += " (" + std::string(code) + ")";
    if (!info.empty()) msg += ": " + std::string(info);
    out += error_places_json(status_for_code(code), msg);
    return true;
  }
  std::vector<Article> articles;
  simdjson::dom::element query;
  if (doc["query"].get(query) == simdjson::SUCCESS) {
    simdjson::dom::element pages;
    if (!query.is_object() || query["pages"].get(pages) != simdjson::SUCCESS) {
      *error = std::string(site) + "'s answer has no query.pages";
      return false;
    }
    // formatversion=2 gives an array; a site too old for it, an object keyed by page id.
    auto take = [&](simdjson::dom::element p) {
      Article a;
      // Within the radius asked (GeoSearch's Earth radius differs from ours by parts per
      // million: 0.01% to spare).
      if (read_page(p, at, a) && a.km <= radius_km * 1.0001) articles.push_back(a);
    };
    if (simdjson::dom::array arr; pages.get(arr) == simdjson::SUCCESS) {
      for (simdjson::dom::element p : arr) take(p);
    } else if (simdjson::dom::object obj; pages.get(obj) == simdjson::SUCCESS) {
      for (auto field : obj) take(field.value);
    } else {
      *error = std::string(site) + "'s query.pages is neither an array nor an object";
      return false;
    }
  }  // no "query": nothing was found
  std::stable_sort(articles.begin(), articles.end(), [](const Article& a, const Article& b) {
    return a.km != b.km ? a.km < b.km : a.pageid < b.pageid;
  });
  if (articles.size() > static_cast<std::size_t>(bound))
    articles.resize(static_cast<std::size_t>(bound));
  std::vector<std::string> items;
  for (const Article& a : articles) {
    LegacyResult item;
    item.location(a.lat, a.lng)
        .string("name", a.title)
        .string("place_id", "wikipedia:" + std::to_string(a.pageid))
        .strings("types", {"article"})
        .string("vicinity", a.description);
    if (!a.url.empty()) item.string("url", a.url);
    items.push_back(item.text());
  }
  const std::string credit =
      "Text from Wikipedia (" + std::string(site) +
      ") under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)";
  out += legacy_document({credit}, items);
  return true;
}

}  // namespace herd
