#include "server/http_client.hpp"

#include <algorithm>
#include <cstring>

#include "herd_build_config.hpp"
#include "server/logging.hpp"

namespace herd {
namespace {
constexpr std::size_t kMaxBodyBytes = 8 * 1024 * 1024;

std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t p; (p = text.find(secret)) != std::string::npos;)
    text.replace(p, secret.size(), "***");
  return text;
}
}  // namespace

struct HttpClient::Transfer {
  HttpClient* client = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  bool body_too_big = false;
  Done done;
  std::string secret;
  long timeout_ms = 0;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    if (headers) curl_slist_free_all(headers);
  }
};

struct HttpClient::SocketContext {
  uv_poll_t poll;
  curl_socket_t fd;
  HttpClient* client;
};

HttpClient::HttpClient(uv_loop_t* loop) : loop_(loop) {}

bool HttpClient::init(std::string* error) {
  multi_ = curl_multi_init();
  if (!multi_) {
    *error = "curl_multi_init failed";
    return false;
  }
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 64L);
  // Upstream connections are capped too (PROTOCOL.md section 10): curl queues transfers
  // beyond these until a connection is free.
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, 64L);
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
  timer_ = new uv_timer_t;
  int rc = uv_timer_init(loop_, timer_);
  if (rc != 0) {
    delete timer_;
    timer_ = nullptr;
    *error = std::string("uv_timer_init: ") + uv_strerror(rc);
    return false;
  }
  timer_->data = this;
  return true;
}

HttpClient::~HttpClient() {
  for (Transfer* t : transfers_) {
    curl_multi_remove_handle(multi_, t->easy);
    delete t;
  }
  transfers_.clear();
  destroying_ = true;
  if (multi_) curl_multi_cleanup(multi_);  // may report CURL_POLL_REMOVE for cached sockets
  for (SocketContext* ctx : sockets_) close_socket_context(ctx);
  sockets_.clear();
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
}

bool HttpClient::request(const HttpRequest& req, Done done) {
  auto* t = new Transfer;
  t->client = this;
  t->done = std::move(done);
  t->secret = req.secret;
  t->timeout_ms = req.timeout_ms;
  t->easy = curl_easy_init();
  auto fail = [&](const std::string& why) {
    UpstreamResult r;
    r.transport_error = why;
    Done d = std::move(t->done);
    delete t;
    d(std::move(r));
    return false;
  };
  if (!t->easy) return fail("curl_easy_init failed");
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  // Wikimedia's API policy asks clients to say who they are.
  curl_easy_setopt(e, CURLOPT_USERAGENT,
                   "herd/" HERD_VERSION
                   " (application server herd; places lookups) libcurl/" LIBCURL_VERSION);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  for (const auto& h : req.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  if (t->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  if (!req.post_body.empty()) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.post_body.size()));
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req.post_body.c_str());
  }
  CURLMcode mc = curl_multi_add_handle(multi_, e);
  if (mc != CURLM_OK) return fail(std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc));
  transfers_.push_back(t);
  return true;
}

std::size_t HttpClient::on_body(char* data, std::size_t size, std::size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  const std::size_t len = size * n;
  if (t->body.size() + len > kMaxBodyBytes) {
    t->body_too_big = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, len);
  return len;
}

int HttpClient::on_socket(CURL*, curl_socket_t s, int action, void* userp, void* socketp) {
  auto* self = static_cast<HttpClient*>(userp);
  auto* ctx = static_cast<SocketContext*>(socketp);
  if (action == CURL_POLL_REMOVE) {
    if (ctx) {
      self->sockets_.erase(ctx);
      close_socket_context(ctx);
      if (!self->destroying_) curl_multi_assign(self->multi_, s, nullptr);
    }
    return 0;
  }
  if (!ctx) {
    ctx = new SocketContext;
    ctx->fd = s;
    ctx->client = self;
    int rc = uv_poll_init_socket(self->loop_, &ctx->poll, s);
    if (rc != 0) {
      log().error("http: uv_poll_init_socket: {}", uv_strerror(rc));
      delete ctx;
      return -1;  // curl fails the transfer
    }
    ctx->poll.data = ctx;
    self->sockets_.insert(ctx);
    curl_multi_assign(self->multi_, s, ctx);
  }
  int events = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) events |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) events |= UV_WRITABLE;
  int rc = uv_poll_start(&ctx->poll, events, on_poll);
  if (rc != 0) {
    log().error("http: uv_poll_start: {}", uv_strerror(rc));
    return -1;
  }
  return 0;
}

void HttpClient::close_socket_context(SocketContext* ctx) {
  uv_poll_stop(&ctx->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&ctx->poll),
           [](uv_handle_t* h) { delete static_cast<SocketContext*>(h->data); });
}

int HttpClient::on_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<HttpClient*>(userp);
  if (!self->timer_) return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(self->timer_);
  } else {
    // Never call back into curl from inside this callback: a zero time-out becomes 1 ms.
    uv_timer_start(self->timer_, on_timeout, static_cast<std::uint64_t>(std::max(timeout_ms, 1L)),
                   0);
  }
  return 0;
}

void HttpClient::on_poll(uv_poll_t* handle, int status, int events) {
  auto* ctx = static_cast<SocketContext*>(handle->data);
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  ctx->client->socket_action(ctx->fd, flags);
}

void HttpClient::on_timeout(uv_timer_t* handle) {
  static_cast<HttpClient*>(handle->data)->socket_action(CURL_SOCKET_TIMEOUT, 0);
}

void HttpClient::socket_action(curl_socket_t s, int flags) {
  int running = 0;
  CURLMcode mc = curl_multi_socket_action(multi_, s, flags, &running);
  if (mc != CURLM_OK) log().error("http: curl_multi_socket_action: {}", curl_multi_strerror(mc));
  check_multi_info();
}

void HttpClient::check_multi_info() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &pending)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode result = msg->data.result;
    Transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
    std::string reset;  // X's rate-limit reset time (a short header; bounded anyway)
    if (curl_header* h = nullptr;
        result == CURLE_OK &&
        curl_easy_header(easy, "x-rate-limit-reset", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h)
      reset.assign(h->value, std::min<std::size_t>(std::strlen(h->value), 32));
    curl_multi_remove_handle(multi_, easy);
    transfers_.erase(std::find(transfers_.begin(), transfers_.end(), t));
    UpstreamResult r;
    if (result == CURLE_OK) {
      r.transport_ok = true;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.http_status);
      r.body = std::move(t->body);
      r.rate_limit_reset = std::move(reset);
    } else if (result == CURLE_OPERATION_TIMEDOUT) {
      r.transport_error =
          "the provider did not answer within " + std::to_string(t->timeout_ms) + " ms";
    } else if (t->body_too_big) {
      r.transport_error = "the provider's answer is larger than 8 MiB";
    } else {
      std::string detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(result);
      r.transport_error = "cannot reach the provider: " + scrub(detail, t->secret);
    }
    Done done = std::move(t->done);
    delete t;
    try {
      done(std::move(r));
    } catch (const std::exception& e) {
      log().error("http: completion failed: {}", e.what());
    }
  }
}

}  // namespace herd
