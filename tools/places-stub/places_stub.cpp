// places-stub: a local stand-in for the places providers' endpoints, for tests and
// benchmarks. HTTP/1.1 with keep-alive on one libuv loop; binds 127.0.0.1 only.
//
//   GET  .../nearbysearch/json?location=LAT,LNG&radius=M&key=K   legacy Nearby Search
//   POST .../places:searchNearby  (X-Goog-Api-Key, JSON body)     Places API (New)
//   GET  .../2/tweets/search/recent?query=point_radius:[LNG LAT Rkm]&max_results=N...
//        (Authorization: Bearer K)                               X API v2 recent search
//   GET  .../api.php?action=query&generator=geosearch&ggscoord=LAT|LNG&ggsradius=M...
//        (a User-Agent naming herd, or 403 as Wikimedia does)     MediaWiki GeoSearch
//   GET  /stats          {"requests": N, "connections": open now, "max_connections": peak,
//                        "max_pending": peak of answers held back by --latency-ms at once,
//                        "last_target": the last search's request target}
//
// X and MediaWiki check their parameters as the real APIs do (X: radius under 25 miles,
// max_results 10 to 100; GeoSearch: radius 10 to 10000 m, limit 1 to 500) and answer
// with their error bodies (--status CODE: X's JSON problem, with x-rate-limit-reset on
// 429; MediaWiki's HTML error page). --x-errors TYPE answers HTTP 200 with X's
// {"errors": [...]} of that problem type; --wiki-error CODE answers MediaWiki's
// {"error": {"code": CODE}}.
//
// Answers are realistic bodies of synthetic places around the requested location:
// legacy ones pretty-printed like Google's, with blank lines (and CRLF with --crlf).
// Failure modes: --status CODE, --garbage, --wrong-shape, --close, --slow-body-ms N,
// --latency-ms N, --legacy-status WORD, --key K (a wrong key is refused as Google does),
// --body-file F (every search answers F's bytes as its 200 body).
// Prints "places-stub listening on PORT" once ready (--port 0 picks a free port).
#include <uv.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

namespace {

struct Options {
  int port = 0;
  int latency_ms = 0;
  int status = 200;
  bool garbage = false, wrong_shape = false, close_conn = false, crlf = false;
  int slow_body_ms = 0;
  int results = 20;
  std::string legacy_status = "OK";
  std::string key;
  std::string body_file;
  std::string x_errors;    // problem type of an errors-only 200 answer from X
  std::string wiki_error;  // code of a MediaWiki error answer
} opt;
std::string g_last_target;

std::uint64_t g_requests = 0;
std::uint64_t g_open = 0, g_max_open = 0, g_pending = 0, g_max_pending = 0;
std::string g_body;  // --body-file contents
uv_loop_t* g_loop = nullptr;

struct Conn {
  uv_tcp_t tcp;
  std::string in;
  int pending = 0;  // responses scheduled but not yet written (latency timers)
  bool closing = false;
  bool closed = false;  // the handle is closed; the last pending timer frees the Conn
};

struct Reply {
  uv_write_t req;
  std::string data;
};

struct Delayed {
  uv_timer_t timer;
  Conn* conn;
  std::string data;
  std::string rest;  // for --slow-body-ms: written after a second delay
};

// A connection closed with answers still waiting on their timers is freed by the last one.
void on_closed(uv_handle_t* h) {
  --g_open;
  auto* c = static_cast<Conn*>(h->data);
  c->closed = true;
  if (c->pending == 0) delete c;
}

void close_conn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_closed);
}

void write_raw(Conn* c, std::string data) {
  if (c->closing) return;
  auto* r = new Reply;
  r->data = std::move(data);
  uv_buf_t b = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
  r->req.data = c;
  if (uv_write(&r->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1,
               [](uv_write_t* req, int) { delete reinterpret_cast<Reply*>(req); }) != 0) {
    delete r;
    close_conn(c);
  }
}

std::string query_param(std::string_view target, std::string_view name) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view qs = target.substr(q + 1);
  while (!qs.empty()) {
    std::size_t amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    if (kv.substr(0, name.size()) == name && kv.size() > name.size() && kv[name.size()] == '=') {
      return std::string(kv.substr(name.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    qs = qs.substr(amp + 1);
  }
  return {};
}

std::string json_number_after(std::string_view body, std::string_view key) {
  std::size_t k = body.find(key);
  if (k == std::string_view::npos) return {};
  std::size_t p = body.find(':', k);
  if (p == std::string_view::npos) return {};
  ++p;
  while (p < body.size() && body[p] == ' ') ++p;
  std::size_t e = p;
  while (e < body.size() && (std::strchr("+-.0123456789eE", body[e]) != nullptr)) ++e;
  return std::string(body.substr(p, e - p));
}

std::string legacy_body(double lat, double lng, int n, const std::string& status,
                        const char* error_message) {
  const char* nl = opt.crlf ? "\r\n" : "\n";
  std::string s = "{";
  s += nl;
  s += "   \"html_attributions\" : [],";
  s += nl;
  if (error_message) {
    s += std::string("   \"error_message\" : \"") + error_message + "\",";
    s += nl;
  }
  s += "   \"results\" : [";
  char buf[1024];
  for (int i = 0; i < n; ++i) {
    std::snprintf(
        buf, sizeof buf,
        "%s%s      {%s         \"business_status\" : \"OPERATIONAL\",%s"
        "         \"geometry\" : {%s            \"location\" : {%s"
        "               \"lat\" : %.7f,%s               \"lng\" : %.7f%s            }%s         "
        "},%s"
        "         \"name\" : \"Stub Place %d\",%s         \"place_id\" : \"stub-%d\",%s"
        "         \"rating\" : 4.%d,%s         \"types\" : [ \"restaurant\", \"food\" ],%s"
        "         \"user_ratings_total\" : %d,%s         \"vicinity\" : \"%d Stub Street\"%s      "
        "}",
        "", i ? "" : nl, nl, nl, nl, nl, lat + 0.0001 * (i + 1), nl, lng + 0.0001 * (i + 1), nl, nl,
        nl, i, nl, i, nl, i % 10, nl, nl, 10 * i + 3, nl, i + 1, nl);
    s += buf;
    // A comma, then the blank line between results that Google's pretty-printer emits.
    s += i + 1 < n ? std::string(",") + nl + nl : std::string(nl);
  }
  s += n ? "   ]," : "],";
  s += nl;
  s += "   \"status\" : \"" + status + "\"";
  s += nl;
  s += "}";
  s += nl;
  return s;
}

std::string new_body(double lat, double lng, int n) {
  std::string s = "{\n  \"places\": [\n";
  char buf[1024];
  for (int i = 0; i < n; ++i) {
    std::snprintf(
        buf, sizeof buf,
        "%s    {\n      \"id\": \"ChIJstub%d\",\n      \"types\": [\"restaurant\", \"food\"],\n"
        "      \"formattedAddress\": \"%d Stub Street, Stubville, XX\",\n"
        "      \"location\": {\n        \"latitude\": %.7f,\n        \"longitude\": %.7f\n      "
        "},\n"
        "      \"rating\": 4.%d,\n      \"userRatingCount\": %d,\n"
        "      \"businessStatus\": \"OPERATIONAL\",\n"
        "      \"displayName\": {\n        \"text\": \"Stub Place %d\",\n        \"languageCode\": "
        "\"en\"\n"
        "      },\n      \"shortFormattedAddress\": \"%d Stub Street\"\n    }",
        i ? ",\n" : "", i, i + 1, lat + 0.0001 * (i + 1), lng + 0.0001 * (i + 1), i % 10,
        10 * i + 3, i, i + 1);
    s += buf;
  }
  s += n ? "\n  ]\n}\n" : "  ]\n}\n";
  if (n == 0) s = "{}\n";
  return s;
}

std::string new_error(int code, const char* status, const char* message) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\n  \"error\": {\n    \"code\": %d,\n    \"message\": \"%s\",\n    \"status\": "
                "\"%s\"\n  }\n}\n",
                code, message, status);
  return buf;
}

std::string url_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::strtol(std::string(s.substr(i + 1, 2)).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::string json_escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += c;
    }
  }
  return out;
}

std::string header_value(std::string_view headers, std::string_view name) {
  // Case-insensitive "Name:" at a line start.
  for (std::size_t at = 0; at < headers.size();) {
    std::size_t end = headers.find("\r\n", at);
    if (end == std::string_view::npos) end = headers.size();
    std::string_view line = headers.substr(at, end - at);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && v[0] == ' ') v.remove_prefix(1);
      return std::string(v);
    }
    at = end + 2;
  }
  return {};
}

std::string x_problem(int status, const char* title, const char* detail, const char* type) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"title\":\"%s\",\"detail\":\"%s\",\"type\":\"%s\",\"status\":%d}\n", title,
                detail, type, status);
  return buf;
}

std::string x_invalid(const std::string& message) {
  return "{\"errors\":[{\"parameters\":{},\"message\":\"" + json_escaped(message) +
         "\"}],\"title\":\"Invalid Request\",\"detail\":\"One or more parameters to your request "
         "was invalid.\",\"type\":\"https://api.twitter.com/2/problems/invalid-request\"}\n";
}

// Posts newest first, like X: even ones carry their own point, odd ones only a place.
std::string x_body(double lat, double lng, int n) {
  if (n == 0) return "{\"meta\":{\"result_count\":0}}\n";
  std::string data, users, places;
  char buf[1024];
  for (int i = 0; i < n; ++i) {
    const char* geo_fmt = i % 2 == 0
                              ? "\"geo\":{\"place_id\":\"p%d\",\"coordinates\":{\"type\":\"Point\","
                                "\"coordinates\":[%.7f,%.7f]}}"
                              : "\"geo\":{\"place_id\":\"p%d\"}";
    char geo[256];
    std::snprintf(geo, sizeof geo, geo_fmt, i % 2, lng + 0.001 * (i + 1), lat + 0.001 * (i + 1));
    std::snprintf(buf, sizeof buf,
                  "%s{\"id\":\"%" PRIu64
                  "\",\"text\":\"Stub post %d: \\\"quoted\\\" caf\\u00e9 "
                  "\\ud83d\\ude00\\nsecond line\",\"created_at\":\"2026-11-29T20:%02d:00.000Z\","
                  "\"author_id\":\"u%d\",\"edit_history_tweet_ids\":[\"%" PRIu64 "\"],%s}",
                  i ? "," : "", std::uint64_t{1862000000000000000} - static_cast<std::uint64_t>(i),
                  i, 59 - i % 60, i % 3,
                  std::uint64_t{1862000000000000000} - static_cast<std::uint64_t>(i), geo);
    data += buf;
  }
  for (int u = 0; u < std::min(n, 3); ++u) {
    std::snprintf(buf, sizeof buf,
                  "%s{\"id\":\"u%d\",\"name\":\"Stub User %d\",\"username\":\"stub_user_%d\"}",
                  u ? "," : "", u, u, u);
    users += buf;
  }
  for (int p = 0; p < std::min(n, 2); ++p) {
    std::snprintf(
        buf, sizeof buf,
        "%s{\"full_name\":\"%s\",\"geo\":{\"type\":\"Feature\",\"bbox\":[%.7f,%.7f,%.7f,%.7f],"
        "\"properties\":{}},\"id\":\"p%d\"}",
        p ? "," : "", p ? "Stub Heights, XX" : "Stubville, XX", lng - 0.01 * (p + 1),
        lat - 0.01 * (p + 1), lng + 0.01 * (p + 1), lat + 0.01 * (p + 1), p);
    places += buf;
  }
  std::snprintf(buf, sizeof buf,
                "],\"includes\":{\"users\":[%s],\"places\":[%s]},\"meta\":{\"newest_id\":\"%" PRIu64
                "\",\"oldest_id\":\"%" PRIu64 "\",\"result_count\":%d}}\n",
                users.c_str(), places.c_str(), std::uint64_t{1862000000000000000},
                std::uint64_t{1862000000000000000} - static_cast<std::uint64_t>(n - 1), n);
  return "{\"data\":[" + data + buf;
}

// Pages around the point at growing distances (within radius_m), listed out of order as
// a generator lists them; every fifth has no description, and one extra page has no
// coordinates.
std::string wiki_body(double lat, double lng, double radius_m, int n) {
  if (n == 0) return "{\"batchcomplete\":true}\n";
  std::string pages;
  char buf[1024];
  for (int k = 0; k < n; ++k) {
    // Odd indices ascending, then even ones descending: nearest is not first.
    const int odd = n / 2;
    const int idx = k < odd ? 2 * k + 1 : 2 * (n - 1 - k);
    const double d = radius_m * 0.9 * (idx + 1) / n / 111320.0;  // degrees of latitude
    std::string desc = idx % 5 == 4 ? ""
                                    : ",\"description\":\"Stub description " + std::to_string(idx) +
                                          "\",\"descriptionsource\":\"local\"";
    std::snprintf(buf, sizeof buf,
                  "%s{\"pageid\":%d,\"ns\":0,\"title\":\"Stub Article %d\",\"coordinates\":[{"
                  "\"lat\":%.7f,\"lon\":%.7f,\"primary\":true,\"globe\":\"earth\"}]%s,"
                  "\"contentmodel\":\"wikitext\",\"pagelanguage\":\"en\",\"touched\":"
                  "\"2026-11-01T00:00:00Z\",\"length\":%d,\"fullurl\":"
                  "\"https://en.wikipedia.org/wiki/Stub_Article_%d\",\"canonicalurl\":"
                  "\"https://en.wikipedia.org/wiki/Stub_Article_%d\"}",
                  k ? "," : "", 1000 + idx, idx, lat + d, lng, desc.c_str(), 1000 + 37 * idx, idx,
                  idx);
    pages += buf;
  }
  pages += ",{\"pageid\":999,\"ns\":0,\"title\":\"Stub Article Without Coordinates\"}";
  return "{\"batchcomplete\":true,\"query\":{\"pages\":[" + pages + "]}}\n";
}

const char* kWikiErrorPage =
    "<!DOCTYPE html><html><head><title>Wikimedia Error</title></head><body>Our servers are "
    "currently under maintenance or experiencing a technical issue.</body></html>\n";

const char* reason(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string http_response(int code, const std::string& body,
                          const char* type = "application/json; charset=UTF-8",
                          const std::string& extra_headers = {}) {
  char head[256];
  std::snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
                code, reason(code), type, body.size());
  return head + extra_headers + "\r\n" + body;
}

void send_later(Conn* c, std::string data, int delay_ms, std::string rest = {}) {
  auto* d = new Delayed;
  d->conn = c;
  d->data = std::move(data);
  d->rest = std::move(rest);
  c->pending++;
  g_max_pending = std::max(g_max_pending, ++g_pending);
  uv_timer_init(g_loop, &d->timer);
  d->timer.data = d;
  uv_timer_start(
      &d->timer,
      [](uv_timer_t* t) {
        auto* dd = static_cast<Delayed*>(t->data);
        dd->conn->pending--;
        --g_pending;
        if (dd->conn->closed) {
          if (dd->conn->pending == 0) delete dd->conn;
        } else {
          write_raw(dd->conn, std::move(dd->data));
          if (!dd->rest.empty()) send_later(dd->conn, std::move(dd->rest), opt.slow_body_ms);
        }
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
      },
      static_cast<std::uint64_t>(delay_ms), 0);
}

// Sends a response now or after the configured latency.
void respond(Conn* c, std::string response);

std::string search_failure(bool x) {
  if (opt.garbage) return http_response(200, "<html>this is not json", "text/html");
  if (opt.wrong_shape)
    return http_response(200, x ? "{\"data\": 42}\n" : "{\"query\":{\"pages\":42}}\n");
  return {};
}

void handle_x(Conn* c, std::string_view target, std::string_view headers) {
  if (opt.status != 200) {
    const int st = opt.status;
    std::string extra;
    if (st == 429) {
      char b[160];
      std::snprintf(
          b, sizeof b,
          "x-rate-limit-limit: 60\r\nx-rate-limit-remaining: 0\r\nx-rate-limit-reset: %lld\r\n",
          static_cast<long long>(std::time(nullptr)) + 900);
      extra = b;
    }
    std::string body =
        st == 400   ? x_invalid("stub error")
        : st == 401 ? x_problem(401, "Unauthorized", "Unauthorized", "about:blank")
        : st == 403 ? x_problem(403, "Forbidden", "You are not permitted to use this endpoint.",
                                "https://api.twitter.com/2/problems/client-forbidden")
        : st == 429 ? x_problem(429, "Too Many Requests", "Too Many Requests", "about:blank")
                    : x_problem(st, "Service Unavailable", "stub error", "about:blank");
    respond(c, http_response(st, body, "application/json; charset=utf-8", extra));
    return;
  }
  if (std::string f = search_failure(true); !f.empty()) {
    respond(c, f);
    return;
  }
  std::string auth = header_value(headers, "Authorization");
  if (auth.rfind("Bearer ", 0) != 0 || (!opt.key.empty() && auth.substr(7) != opt.key)) {
    respond(c, http_response(401, x_problem(401, "Unauthorized", "Unauthorized", "about:blank")));
    return;
  }
  if (!opt.x_errors.empty()) {
    respond(c, http_response(200, "{\"errors\":[{\"title\":\"Stub Problem\",\"detail\":\"stub " +
                                      opt.x_errors +
                                      " problem\",\"type\":\"https://api.twitter.com/2/problems/" +
                                      opt.x_errors + "\"}]}\n"));
    return;
  }
  const std::string query = url_decoded(query_param(target, "query"));
  double lng = 0, lat = 0, radius = 0;
  char unit[4] = {};
  if (std::sscanf(query.c_str(), "point_radius:[%lf %lf %lf%2s]", &lng, &lat, &radius, unit) != 4) {
    respond(c, http_response(400, x_invalid("stub: no point_radius operator in " + query)));
    return;
  }
  const double km = std::string(unit) == "mi" ? radius * 1.609344 : radius;
  if (km <= 0 || km >= 25 * 1.609344) {
    respond(c,
            http_response(400, x_invalid("There were errors processing your request: Radius must "
                                         "be less than 25 miles")));
    return;
  }
  const int max = std::atoi(query_param(target, "max_results").c_str());
  if (max < 10 || max > 100) {
    respond(c, http_response(400, x_invalid("The `max_results` query parameter value [" +
                                            std::to_string(max) + "] is not between 10 and 100")));
    return;
  }
  respond(c, http_response(200, x_body(lat, lng, std::min(opt.results, max))));
}

void handle_wiki(Conn* c, std::string_view target, std::string_view headers) {
  if (header_value(headers, "User-Agent").find("herd/") == std::string::npos) {
    respond(c, http_response(403, "Please set a user-agent and respect our robot policy.\n",
                             "text/plain"));
    return;
  }
  if (opt.status != 200) {
    respond(c, http_response(opt.status, kWikiErrorPage, "text/html; charset=utf-8"));
    return;
  }
  if (std::string f = search_failure(false); !f.empty()) {
    respond(c, f);
    return;
  }
  auto error = [&](const std::string& code, const std::string& info) {
    respond(c, http_response(
                   200, "{\"error\":{\"code\":\"" + code + "\",\"info\":\"" + json_escaped(info) +
                            "\",\"docref\":\"See https://en.wikipedia.org/w/api.php for API "
                            "usage.\"},\"servedby\":\"stub\"}\n"));
  };
  if (!opt.wiki_error.empty()) {
    error(opt.wiki_error, "stub " + opt.wiki_error + " error");
    return;
  }
  if (query_param(target, "action") != "query" || query_param(target, "generator") != "geosearch") {
    error("badvalue", "stub: expected action=query&generator=geosearch");
    return;
  }
  double lat = 0, lng = 0;
  if (std::sscanf(url_decoded(query_param(target, "ggscoord")).c_str(), "%lf|%lf", &lat, &lng) !=
      2) {
    error("invalid-coord", "Invalid coordinate provided");
    return;
  }
  const std::string radius_text = query_param(target, "ggsradius");
  const int radius = std::atoi(radius_text.c_str());
  if (radius < 10 || radius > 10000) {
    error("badinteger", "Invalid value \"" + radius_text +
                            "\" for integer parameter \"ggsradius\": "
                            "the value must be between 10 and 10000.");
    return;
  }
  const int limit = std::atoi(query_param(target, "ggslimit").c_str());
  if (limit < 1 || limit > 500) {
    error("badinteger", "ggslimit must be between 1 and 500");
    return;
  }
  respond(c, http_response(200, wiki_body(lat, lng, radius, std::min(opt.results, limit))));
}

// Handles one complete request; returns false to close the connection.
bool handle(Conn* c, std::string_view method, std::string_view target, std::string_view headers,
            std::string_view body) {
  ++g_requests;
  std::string response;
  if (target == "/stats") {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"requests\": %" PRIu64 ", \"connections\": %" PRIu64
                  ", \"max_connections\": %" PRIu64 ", \"max_pending\": %" PRIu64
                  ", \"last_target\": \"",
                  g_requests - 1, g_open, g_max_open, g_max_pending);
    write_raw(c, http_response(200, buf + json_escaped(g_last_target) + "\"}\n"));
    return true;
  }
  if (opt.close_conn) return false;
  if (method == "GET" && target.find("/2/tweets/search/recent") != std::string_view::npos) {
    g_last_target = target;
    handle_x(c, target, headers);
    return true;
  }
  if (method == "GET" && target.find("api.php") != std::string_view::npos) {
    g_last_target = target;
    handle_wiki(c, target, headers);
    return true;
  }
  const bool legacy = method == "GET" && target.find("nearbysearch") != std::string_view::npos;
  const bool fresh = method == "POST" && target.find("searchNearby") != std::string_view::npos;
  double lat = 0, lng = 0;
  int count = opt.results;
  std::string key;
  if (legacy) {
    std::string loc = query_param(target, "location");
    std::sscanf(loc.c_str(), "%lf,%lf", &lat, &lng);
    key = query_param(target, "key");
  } else if (fresh) {
    lat = std::atof(json_number_after(body, "\"latitude\"").c_str());
    lng = std::atof(json_number_after(body, "\"longitude\"").c_str());
    std::string max = json_number_after(body, "\"maxResultCount\"");
    if (!max.empty()) count = std::min(count, std::atoi(max.c_str()));
    std::size_t k = headers.find("X-Goog-Api-Key:");
    if (k == std::string_view::npos) k = headers.find("x-goog-api-key:");
    if (k != std::string_view::npos) {
      std::size_t b = k + 15, e = headers.find("\r\n", k);
      while (b < e && headers[b] == ' ') ++b;
      key = std::string(headers.substr(b, e - b));
    }
  } else {
    write_raw(c, http_response(404, "not found\n", "text/plain"));
    return true;
  }
  if (opt.status != 200) {
    response = http_response(opt.status,
                             fresh ? new_error(opt.status,
                                               opt.status == 429   ? "RESOURCE_EXHAUSTED"
                                               : opt.status == 400 ? "INVALID_ARGUMENT"
                                               : opt.status == 403 ? "PERMISSION_DENIED"
                                                                   : "INTERNAL",
                                               "stub error")
                                   : std::string("<html><body>error</body></html>\n"),
                             fresh ? "application/json; charset=UTF-8" : "text/html");
  } else if (opt.garbage) {
    response = http_response(200, "<html>this is not json", "text/html");
  } else if (opt.wrong_shape) {
    response = http_response(200, fresh ? "{\"places\": 42}\n" : "[1, 2, 3]\n");
  } else if (!opt.key.empty() && key != opt.key) {
    response =
        fresh ? http_response(403, new_error(403, "PERMISSION_DENIED",
                                             "API key not valid. Please pass a valid API key."))
              : http_response(200, legacy_body(lat, lng, 0, "REQUEST_DENIED",
                                               "The provided API key is invalid."));
  } else if (!opt.body_file.empty()) {
    response = http_response(200, g_body);
  } else if (legacy) {
    const bool empty = opt.legacy_status != "OK";
    response =
        http_response(200, legacy_body(lat, lng, empty ? 0 : count, opt.legacy_status, nullptr));
  } else {
    response = http_response(200, new_body(lat, lng, count));
  }
  respond(c, std::move(response));
  return true;
}

void respond(Conn* c, std::string response) {
  if (opt.slow_body_ms > 0) {
    std::size_t half = response.size() - (response.size() - response.find("\r\n\r\n")) / 2;
    send_later(c, response.substr(0, half), opt.latency_ms, response.substr(half));
  } else if (opt.latency_ms > 0) {
    send_later(c, std::move(response), opt.latency_ms);
  } else {
    write_raw(c, std::move(response));
  }
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  if (nread < 0) {
    close_conn(c);
    return;
  }
  c->in.append(buf->base, static_cast<std::size_t>(nread));
  while (true) {
    std::size_t end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c->in.size() > 65536) close_conn(c);
      return;
    }
    std::string_view head(c->in.data(), end + 2);
    std::size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
      close_conn(c);
      return;
    }
    std::size_t length = 0;
    std::size_t cl = head.find("Content-Length:");
    if (cl == std::string_view::npos) cl = head.find("content-length:");
    if (cl != std::string_view::npos) length = std::strtoul(head.data() + cl + 15, nullptr, 10);
    if (c->in.size() < end + 4 + length) return;
    std::string req = c->in.substr(0, end + 4 + length);
    c->in.erase(0, end + 4 + length);
    std::string_view r = req;
    if (!handle(c, r.substr(0, sp1), r.substr(sp1 + 1, sp2 - sp1 - 1), r.substr(0, end + 2),
                r.substr(end + 4))) {
      close_conn(c);
      return;
    }
  }
}

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* c = new Conn;
  g_max_open = std::max(g_max_open, ++g_open);
  uv_tcp_init(g_loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    close_conn(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, std::size_t, uv_buf_t* b) {
        static char block[65536];
        b->base = block;
        b->len = sizeof block;
      },
      on_read);
}

[[noreturn]] void usage() {
  std::fputs(
      "usage: places-stub [--port 0] [--latency-ms N] [--status CODE] [--garbage] [--wrong-shape] "
      "[--close]\n"
      "                   [--slow-body-ms N] [--results N] [--legacy-status WORD] [--key KEY] "
      "[--crlf]\n"
      "                   [--body-file F] [--x-errors PROBLEM-TYPE] [--wiki-error CODE]\n",
      stderr);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--port")
      opt.port = std::atoi(value().c_str());
    else if (a == "--latency-ms")
      opt.latency_ms = std::atoi(value().c_str());
    else if (a == "--status")
      opt.status = std::atoi(value().c_str());
    else if (a == "--garbage")
      opt.garbage = true;
    else if (a == "--wrong-shape")
      opt.wrong_shape = true;
    else if (a == "--close")
      opt.close_conn = true;
    else if (a == "--crlf")
      opt.crlf = true;
    else if (a == "--slow-body-ms")
      opt.slow_body_ms = std::atoi(value().c_str());
    else if (a == "--results")
      opt.results = std::atoi(value().c_str());
    else if (a == "--legacy-status")
      opt.legacy_status = value();
    else if (a == "--key")
      opt.key = value();
    else if (a == "--body-file")
      opt.body_file = value();
    else if (a == "--x-errors")
      opt.x_errors = value();
    else if (a == "--wiki-error")
      opt.wiki_error = value();
    else
      usage();
  }
  if (!opt.body_file.empty()) {
    FILE* f = std::fopen(opt.body_file.c_str(), "rb");
    if (!f) {
      std::fprintf(stderr, "places-stub: cannot read %s\n", opt.body_file.c_str());
      return 2;
    }
    char chunk[4096];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, f)) > 0;) g_body.append(chunk, n);
    std::fclose(f);
  }
  std::signal(SIGPIPE, SIG_IGN);
  g_loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(g_loop, &server);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", opt.port, &addr);
  int rc = uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 1024, on_connection);
  if (rc != 0) {
    std::fprintf(stderr, "places-stub: cannot listen on 127.0.0.1:%d: %s\n", opt.port,
                 uv_strerror(rc));
    return 1;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&bound), &len);
  std::printf("places-stub listening on %d\n",
              ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port));
  std::fflush(stdout);
  uv_signal_t sig;
  uv_signal_init(g_loop, &sig);
  uv_signal_start(
      &sig, [](uv_signal_t*, int) { uv_stop(g_loop); }, SIGTERM);
  uv_signal_t sigint;
  uv_signal_init(g_loop, &sigint);
  uv_signal_start(
      &sigint, [](uv_signal_t*, int) { uv_stop(g_loop); }, SIGINT);
  uv_run(g_loop, UV_RUN_DEFAULT);
  return 0;
}
