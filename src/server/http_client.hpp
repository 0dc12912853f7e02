#pragma once
// A non-blocking HTTP client on one libuv loop: one libcurl multi handle driven the way
// curl's docs/examples/multi-uv.c does it (CURLMOPT_SOCKETFUNCTION starts and stops
// uv_poll_t handles, CURLMOPT_TIMERFUNCTION drives a uv_timer_t, curl_multi_info_read
// after every curl_multi_socket_action). Connections are kept alive and reused; HTTP/2
// is multiplexed where the server offers it. Every method runs on the loop's thread.
#include <curl/curl.h>
#include <uv.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/places_google.hpp"

namespace herd {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string post_body;             // empty: GET
  long timeout_ms = 5000;            // ends the whole exchange, DNS and connect included
  std::string secret;                // scrubbed from error messages (an API key)
};

class HttpClient {
 public:
  using Done = std::function<void(UpstreamResult)>;

  explicit HttpClient(uv_loop_t* loop);
  // Abandons transfers in flight (their callbacks are not called) and closes every handle;
  // the handles' memory is freed by their close callbacks, so the loop must run on.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // False with *error if curl or libuv could not be set up.
  bool init(std::string* error);

  // Starts a transfer; done is called exactly once, later, on this loop (unless the
  // client is destroyed first). Returns false if the transfer could not even start (done
  // is then called before returning, with transport_ok false).
  bool request(const HttpRequest& req, Done done);

 private:
  struct Transfer;
  struct SocketContext;
  static int on_socket(CURL* easy, curl_socket_t s, int action, void* userp, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* userp);
  static void on_poll(uv_poll_t* handle, int status, int events);
  static void on_timeout(uv_timer_t* handle);
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* userp);
  static void close_socket_context(SocketContext* ctx);
  void socket_action(curl_socket_t s, int flags);
  void check_multi_info();

  uv_loop_t* loop_;
  CURLM* multi_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // heap: freed by its close callback
  std::vector<Transfer*> transfers_;
  std::set<SocketContext*> sockets_;  // polls curl asked for and has not removed
  bool destroying_ = false;
};

}  // namespace herd
