#pragma once
// The admin listener's HTTP request head (one request per connection), parsed without
// I/O. Pure, so it is unit-tested and fuzzed.
#include <cstddef>
#include <string_view>

namespace herd {

constexpr std::size_t kMaxAdminRequestBytes = 8192;

struct AdminRequest {
  enum class State {
    need_more,  // no end of the head yet
    too_long,   // more than max_bytes without an end of the head
    complete,   // method and target are set (views into the buffer)
  } state = State::need_more;
  std::string_view method;  // "GET", ...
  std::string_view target;  // "/healthz", ... (empty if the request line has none)
};

// Looks for the end of the head ("\r\n\r\n" or "\n\n") in buf. `scanned` carries how far
// earlier calls looked, so bytes are scanned once however the head arrives (start it at
// 0 and keep it with the buffer).
AdminRequest parse_admin_request(std::string_view buf, std::size_t& scanned,
                                 std::size_t max_bytes = kMaxAdminRequestBytes);

}  // namespace herd
