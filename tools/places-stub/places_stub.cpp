// places-stub: a local stand-in for both Google Places endpoints, for tests and
// benchmarks. HTTP/1.1 with keep-alive on one libuv loop; binds 127.0.0.1 only.
//
//   GET  .../nearbysearch/json?location=LAT,LNG&radius=M&key=K   legacy Nearby Search
//   POST .../places:searchNearby  (X-Goog-Api-Key, JSON body)     Places API (New)
//   GET  /stats          {"requests": N, "connections": open now, "max_connections": peak,
//                        "max_pending": peak of answers held back by --latency-ms at once}
//
// Answers are realistic bodies of synthetic places around the requested location:
// legacy ones pretty-printed like Google's, with blank lines (and CRLF with --crlf).
// Failure modes: --status CODE, --garbage, --wrong-shape, --close, --slow-body-ms N,
// --latency-ms N, --legacy-status WORD, --key K (a wrong key is refused as Google does),
// --body-file F (every search answers F's bytes as its 200 body).
// Prints "places-stub listening on PORT" once ready (--port 0 picks a free port).
#include <uv.h>

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
} opt;

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
                          const char* type = "application/json; charset=UTF-8") {
  char head[256];
  std::snprintf(head, sizeof head,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", code,
                reason(code), type, body.size());
  return head + body;
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

// Handles one complete request; returns false to close the connection.
bool handle(Conn* c, std::string_view method, std::string_view target, std::string_view headers,
            std::string_view body) {
  ++g_requests;
  std::string response;
  if (target == "/stats") {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"requests\": %" PRIu64 ", \"connections\": %" PRIu64
                  ", \"max_connections\": %" PRIu64 ", \"max_pending\": %" PRIu64 "}\n",
                  g_requests - 1, g_open, g_max_open, g_max_pending);
    write_raw(c, http_response(200, buf));
    return true;
  }
  if (opt.close_conn) return false;
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
  if (opt.slow_body_ms > 0) {
    std::size_t half = response.size() - (response.size() - response.find("\r\n\r\n")) / 2;
    send_later(c, response.substr(0, half), opt.latency_ms, response.substr(half));
  } else if (opt.latency_ms > 0) {
    send_later(c, std::move(response), opt.latency_ms);
  } else {
    write_raw(c, std::move(response));
  }
  return true;
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
      "[--crlf]\n",
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
