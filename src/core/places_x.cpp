#include "core/places_x.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <unordered_map>
#include <vector>

#include "core/decimal_format.hpp"
#include "core/places_json.hpp"
#include "core/places_legacy.hpp"
#include "core/url.hpp"

namespace herd {
namespace {

constexpr std::string_view kAttribution = "Posts from X (https://x.com)";

std::string_view get_string(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) return v;
  return {};
}

// "… resets at 2026-11-29T21:00:00Z" from X's x-rate-limit-reset (epoch seconds).
std::string rate_limit_message(std::string_view reset) {
  std::string msg = "X's rate limit is reached";
  const bool digits =
      !reset.empty() && reset.size() <= 12 &&
      std::all_of(reset.begin(), reset.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return msg + " (no reset time given)";
  std::time_t t = static_cast<std::time_t>(std::stoll(std::string(reset)));
  std::tm tm{};
  char when[32];
  if (gmtime_r(&t, &tm) && std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
    return msg + "; it resets at " + when + " (x-rate-limit-reset " + std::string(reset) + ")";
  return msg + "; x-rate-limit-reset " + std::string(reset);
}

// X's problem type (".../problems/invalid-request") as a legacy status word.
std::string_view status_for_problem(std::string_view type) {
  const std::string_view last = type.substr(type.rfind('/') + 1);
  if (last == "invalid-request") return "INVALID_REQUEST";
  if (last == "not-authorized-for-resource" || last == "not-authorized-for-field" ||
      last == "unsupported-authentication" || last == "client-forbidden" ||
      last == "client-not-enrolled")
    return "REQUEST_DENIED";
  if (last == "usage-capped" || last == "rate-limit-exceeded") return "OVER_QUERY_LIMIT";
  return "UNKNOWN_ERROR";
}

// What X said went wrong: detail, message or title of the body (or of its first error).
std::string_view problem_text(simdjson::dom::element doc) {
  for (const char* k : {"detail", "message", "title"}) {
    std::string_view v = get_string(doc, k);
    if (!v.empty()) return v;
  }
  simdjson::dom::array errors;
  if (doc["errors"].get(errors) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : errors) {
      if (!e.is_object()) continue;
      for (const char* k : {"message", "detail", "title"}) {
        std::string_view v = get_string(e, k);
        if (!v.empty()) return v;
      }
    }
  }
  return {};
}

// Post ids are decimal snowflakes: a longer id is newer, then the larger.
bool newer_id(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() > b.size() : a > b;
}

struct Post {
  std::string_view id, text, created_at, author, place;
  double lat = 0, lng = 0;
};

}  // namespace

std::string x_search_url(std::string_view endpoint, std::string_view lat, std::string_view lng,
                         double radius_km) {
  std::string radius;
  append_decimal(radius, searched_radius_km(PlacesProviderKind::x, radius_km), 3,
                 TrailingZeros::drop_all);
  const std::string op =
      "point_radius:[" + std::string(lng) + " " + std::string(lat) + " " + radius + "km]";
  std::string q = "query=";
  append_url_encoded(q, op);
  q += "&max_results=" + std::to_string(kXMaxResults) +
       "&sort_order=recency&tweet.fields=created_at,geo,author_id"
       "&expansions=author_id,geo.place_id&user.fields=username&place.fields=full_name,geo";
  return url_with_query(endpoint.empty() ? "https://api.x.com/2/tweets/search/recent" : endpoint,
                        q);
}

bool translate_x_json(const UpstreamResult& r, int bound, std::string& out, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const bool json =
      parser.parse(r.body.data(), r.body.size()).get(doc) == simdjson::SUCCESS && doc.is_object();
  if (r.http_status != 200) {
    std::string_view said = json ? problem_text(doc) : std::string_view{};
    std::string msg = r.http_status == 429 ? rate_limit_message(r.rate_limit_reset)
                                           : "X answered HTTP " + std::to_string(r.http_status);
    if (!said.empty()) msg += std::string(": ") + std::string(said);
    out += error_places_json(status_for_http(r.http_status), msg);
    return true;
  }
  if (!json) {
    *error = "X's answer is not a JSON object";
    return false;
  }
  simdjson::dom::array data;
  auto dr = doc["data"];
  const bool has_data = dr.error() == simdjson::SUCCESS;
  if (has_data && dr.get(data) != simdjson::SUCCESS) {
    *error = "X's data is not an array";
    return false;
  }
  simdjson::dom::array errors;
  if (!has_data && doc["errors"].get(errors) == simdjson::SUCCESS) {
    // An answer of errors only (partial errors next to data are about expansions).
    std::string_view type;
    for (simdjson::dom::element e : errors) {
      if (e.is_object() && !(type = get_string(e, "type")).empty()) break;
    }
    if (type.empty()) type = get_string(doc, "type");
    std::string_view said = problem_text(doc);
    out += error_places_json(status_for_problem(type), said.empty() ? "X reported an error" : said);
    return true;
  }
  // includes: usernames by author id, places (name, bounding-box centre) by place id.
  std::unordered_map<std::string_view, std::string_view> users;
  struct Place {
    std::string_view name;
    bool has_centre = false;
    double lat = 0, lng = 0;
  };
  std::unordered_map<std::string_view, Place> places;
  simdjson::dom::element includes;
  if (doc["includes"].get(includes) == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (includes["users"].get(arr) == simdjson::SUCCESS) {
      for (simdjson::dom::element u : arr) {
        if (u.is_object()) users.emplace(get_string(u, "id"), get_string(u, "username"));
      }
    }
    if (includes["places"].get(arr) == simdjson::SUCCESS) {
      for (simdjson::dom::element p : arr) {
        if (!p.is_object()) continue;
        Place pl{get_string(p, "full_name")};
        simdjson::dom::array bbox;  // [west, south, east, north]
        double b[4];
        std::size_t n = 0;
        if (p["geo"]["bbox"].get(bbox) == simdjson::SUCCESS && bbox.size() == 4) {
          for (simdjson::dom::element v : bbox) {
            if (v.get(b[n]) != simdjson::SUCCESS) break;
            ++n;
          }
        }
        if (n == 4 && on_earth((b[1] + b[3]) / 2, (b[0] + b[2]) / 2)) {
          pl.has_centre = true;
          pl.lat = (b[1] + b[3]) / 2;
          pl.lng = (b[0] + b[2]) / 2;
        }
        places.emplace(get_string(p, "id"), pl);
      }
    }
  }
  std::vector<Post> posts;
  if (has_data) {
    for (simdjson::dom::element d : data) {
      if (!d.is_object()) {
        *error = "an X post is not a JSON object";
        return false;
      }
      Post post;
      if (d["id"].get(post.id) != simdjson::SUCCESS ||
          d["text"].get(post.text) != simdjson::SUCCESS) {
        *error = "an X post has no id or text";
        return false;
      }
      post.created_at = get_string(d, "created_at");
      if (auto u = users.find(get_string(d, "author_id")); u != users.end())
        post.author = u->second;
      // The post's own point, else the centre of its place; a post with neither is left
      // out (it cannot be placed).
      simdjson::dom::element geo;
      const Place* place = nullptr;
      bool placed = false;
      if (d["geo"].get(geo) == simdjson::SUCCESS && geo.is_object()) {
        if (auto p = places.find(get_string(geo, "place_id")); p != places.end())
          place = &p->second;
        simdjson::dom::array point;
        if (geo["coordinates"]["coordinates"].get(point) == simdjson::SUCCESS &&
            point.size() == 2 && point.at(0).get(post.lng) == simdjson::SUCCESS &&
            point.at(1).get(post.lat) == simdjson::SUCCESS && on_earth(post.lat, post.lng))
          placed = true;
      }
      if (place) post.place = place->name;
      if (!placed && place && place->has_centre) {
        post.lat = place->lat;
        post.lng = place->lng;
        placed = true;
      }
      if (placed) posts.push_back(post);
    }
  }
  std::stable_sort(posts.begin(), posts.end(),
                   [](const Post& a, const Post& b) { return newer_id(a.id, b.id); });
  if (posts.size() > static_cast<std::size_t>(bound)) posts.resize(static_cast<std::size_t>(bound));
  std::vector<std::string> items;
  for (const Post& p : posts) {
    LegacyResult item;
    item.string("author", p.author)
        .string("created_at", p.created_at)
        .location(p.lat, p.lng)
        .string("name", p.text)
        .string("place_id", p.id)
        .strings("types", {"post"})
        .string("vicinity", p.place);
    items.push_back(item.text());
  }
  out += legacy_document({kAttribution}, items);
  return true;
}

}  // namespace herd
