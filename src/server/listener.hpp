#pragma once
// Listening sockets. Each worker binds its own socket to the server's port with
// SO_REUSEPORT (set by hand: Debian's libuv 1.44 has no flag for it), so the kernel
// spreads incoming connections over the workers.
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace herd {

// Fills *ss and *len for an IPv4 or IPv6 literal; false for anything else.
bool make_sockaddr(const std::string& host, std::uint16_t port, sockaddr_storage* ss,
                   socklen_t* len);

// Returns a bound, listening, non-blocking socket, or -1 with *error set.
int open_listen_socket(const std::string& host, std::uint16_t port, bool reuseport,
                       std::string* error);

// True if nothing listens on host:port: a probe bind without SO_REUSEPORT, so another
// process's SO_REUSEPORT sockets are detected too. Sets *error when false.
bool port_is_free(const std::string& host, std::uint16_t port, std::string* error);

}  // namespace herd
