#pragma once
// Where link traffic meets client sessions: the hooks a session calls, callable from any
// worker thread. They do nothing when the server has no links.
#include <uv.h>

#include <string_view>

#include "core/record.hpp"
#include "server/context.hpp"

namespace herd {

// True for the first line a dialling neighbour sends (see links.hpp for the handshake).
bool is_link_hello(std::string_view line);

// Passes a client connection whose first line was a link hello to the link layer (on
// worker 0), which takes a duplicate of the socket. Returns false if there is no link
// layer or the socket cannot be handed over; the line is then invalid input.
// peer names the remote address for the log.
bool hand_over_to_links(ServerContext& ctx, uv_tcp_t* tcp, std::string_view hello_line,
                        std::string_view peer);

// True if the first byte a connection sent opens a TLS handshake record: on the client
// port of a herd with [tls], a neighbour's link (PROTOCOL.md section 11).
inline bool opens_tls_record(char first_byte) {
  return first_byte == 0x16;
}

// Passes a client connection whose first bytes (`first`, everything read so far) open a
// TLS handshake to the link layer, as hand_over_to_links does.
bool hand_over_tls_to_links(ServerContext& ctx, uv_tcp_t* tcp, std::string_view first,
                            std::string_view peer);

// True for a neighbour's wake-up line (see link_handshake.hpp).
bool is_link_wake(std::string_view line);

}  // namespace herd
