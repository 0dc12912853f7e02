#include "core/places_google.hpp"

#include <simdjson.h>

#include <vector>

#include "core/places_json.hpp"
#include "core/places_legacy.hpp"

namespace herd {
namespace {

// A minimal scanner over JSON text already validated by simdjson: finds value
// boundaries without decoding, so untouched members keep their bytes.
struct Scanner {
  std::string_view s;
  std::size_t i = 0;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool string() {
    if (i >= s.size() || s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        ++i;
        return true;
      }
    }
    return false;
  }
  bool value() {
    ws();
    if (i >= s.size()) return false;
    char c = s[i];
    if (c == '"') return string();
    if (c == '{' || c == '[') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        char d = s[i];
        if (d == '"') {
          if (!string()) return false;
          --i;
        } else if (d == '{' || d == '[') {
          ++depth;
        } else if (d == '}' || d == ']') {
          if (--depth == 0) {
            ++i;
            return true;
          }
        }
      }
      return false;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
           s[i] != '\n' && s[i] != '\t' && s[i] != '\r') {
      ++i;
    }
    return true;
  }
};

// Cuts the top-level "results" array of a valid JSON object to `bound` elements.
std::string cut_results(std::string_view text, int bound) {
  Scanner sc{text};
  sc.ws();
  if (sc.i >= text.size() || text[sc.i] != '{') return std::string(text);
  ++sc.i;
  while (true) {
    sc.ws();
    if (sc.i >= text.size() || text[sc.i] == '}') break;
    std::size_t key_start = sc.i;
    if (!sc.string()) break;
    std::string_view key = text.substr(key_start, sc.i - key_start);
    sc.ws();
    if (sc.i >= text.size() || text[sc.i] != ':') break;
    ++sc.i;
    sc.ws();
    if (key == "\"results\"" && sc.i < text.size() && text[sc.i] == '[') {
      ++sc.i;
      std::vector<std::size_t> ends;
      while (true) {
        sc.ws();
        if (sc.i >= text.size() || text[sc.i] == ']') break;
        if (!sc.value()) return std::string(text);
        ends.push_back(sc.i);
        sc.ws();
        if (sc.i < text.size() && text[sc.i] == ',') ++sc.i;
      }
      if (ends.size() <= static_cast<std::size_t>(bound)) return std::string(text);
      // Keep the first `bound` elements and whatever followed the last one (the white
      // space before ']' and the rest of the object).
      std::string out(text.substr(0, ends[static_cast<std::size_t>(bound) - 1]));
      out.append(text.substr(ends.back()));
      return out;
    }
    if (!sc.value()) break;
    sc.ws();
    if (sc.i < text.size() && text[sc.i] == ',') ++sc.i;
  }
  return std::string(text);
}

std::string_view get_string(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) == simdjson::SUCCESS) return v;
  return {};
}

std::string legacy_error_status_for_new(std::string_view status, long http_status) {
  if (status == "INVALID_ARGUMENT" || status == "FAILED_PRECONDITION" || status == "OUT_OF_RANGE") {
    return "INVALID_REQUEST";
  }
  if (status == "PERMISSION_DENIED" || status == "UNAUTHENTICATED") return "REQUEST_DENIED";
  if (status == "RESOURCE_EXHAUSTED") return "OVER_QUERY_LIMIT";
  return std::string(status_for_http(http_status == 200 ? 500 : http_status));
}

}  // namespace

bool trim_legacy_json(std::string_view body, int bound, std::string& out, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    *error = "the provider's answer is not JSON";
    return false;
  }
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) {
    *error = "the provider's answer is not a JSON object";
    return false;
  }
  std::string_view status;
  if (obj["status"].get(status) != simdjson::SUCCESS) {
    *error = "the provider's answer has no status string";
    return false;
  }
  simdjson::dom::element results;
  if (obj["results"].get(results) == simdjson::SUCCESS && !results.is_array()) {
    *error = "the provider's results are not an array";
    return false;
  }
  append_normalized_json(out, cut_results(body, bound));
  return true;
}

bool translate_new_json(std::string_view body, long http_status, int bound, std::string& out,
                        std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    *error = "the provider's answer is not JSON";
    return false;
  }
  if (!doc.is_object()) {
    *error = "the provider's answer is not a JSON object";
    return false;
  }
  simdjson::dom::element err;
  if (doc["error"].get(err) == simdjson::SUCCESS) {
    std::string_view message = get_string(err, "message");
    out += error_places_json(legacy_error_status_for_new(get_string(err, "status"), http_status),
                             message.empty() ? "the provider reported an error" : message);
    return true;
  }
  if (http_status != 200) {
    *error = "HTTP " + std::to_string(http_status);
    return false;
  }
  simdjson::dom::array places;
  auto pr = doc["places"];
  if (pr.error() == simdjson::NO_SUCH_FIELD) {
    // An empty search answers "{}".
  } else if (pr.get(places) != simdjson::SUCCESS) {
    *error = "the provider's places are not an array";
    return false;
  }
  std::vector<std::string> items;
  if (pr.error() == simdjson::SUCCESS) {
    for (simdjson::dom::element p : places) {
      if (static_cast<int>(items.size()) == bound) break;
      if (!p.is_object()) {
        *error = "a place is not a JSON object";
        return false;
      }
      double lat = 0, lng = 0;
      simdjson::dom::element loc;
      if (p["location"].get(loc) != simdjson::SUCCESS ||
          loc["latitude"].get(lat) != simdjson::SUCCESS ||
          loc["longitude"].get(lng) != simdjson::SUCCESS) {
        *error = "a place has no location";
        return false;
      }
      LegacyResult item;
      std::string_view status = get_string(p, "businessStatus");
      if (!status.empty()) item.string("business_status", status);
      item.location(lat, lng);
      std::string_view name;
      simdjson::dom::element dn;
      if (p["displayName"].get(dn) == simdjson::SUCCESS) name = get_string(dn, "text");
      item.string("name", name).string("place_id", get_string(p, "id"));
      double rating = 0;
      if (p["rating"].get(rating) == simdjson::SUCCESS) item.number("rating", rating);
      std::vector<std::string_view> type_words;
      simdjson::dom::array types;
      if (p["types"].get(types) == simdjson::SUCCESS) {
        for (simdjson::dom::element t : types) {
          std::string_view tv;
          if (t.get(tv) == simdjson::SUCCESS) type_words.push_back(tv);
        }
      }
      item.strings("types", type_words);
      std::int64_t count = 0;
      if (p["userRatingCount"].get(count) == simdjson::SUCCESS)
        item.integer("user_ratings_total", count);
      std::string_view vicinity = get_string(p, "shortFormattedAddress");
      if (vicinity.empty()) vicinity = get_string(p, "formattedAddress");
      item.string("vicinity", vicinity);
      items.push_back(item.text());
    }
  }
  out += legacy_document({}, items);
  return true;
}

std::string google_reply_json(bool legacy, const UpstreamResult& r, int bound) {
  if (!r.transport_ok) return error_places_json("UNKNOWN_ERROR", r.transport_error);
  std::string out, why;
  if (legacy) {
    if (r.http_status != 200) {
      return error_places_json(status_for_http(r.http_status),
                               "the provider answered HTTP " + std::to_string(r.http_status));
    }
    if (trim_legacy_json(r.body, bound, out, &why)) return out;
  } else {
    if (translate_new_json(r.body, r.http_status, bound, out, &why)) return out;
    if (r.http_status != 200) {
      return error_places_json(status_for_http(r.http_status),
                               "the provider answered HTTP " + std::to_string(r.http_status));
    }
  }
  return error_places_json("UNKNOWN_ERROR", why);
}

}  // namespace herd
