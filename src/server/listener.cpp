#include "server/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace herd {

bool make_sockaddr(const std::string& host, std::uint16_t port, sockaddr_storage* ss,
                   socklen_t* len) {
  *ss = sockaddr_storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
    return true;
  }
  return false;
}

namespace {

int bind_socket(const std::string& host, std::uint16_t port, bool reuseport, std::string* error) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!make_sockaddr(host, port, &ss, &len)) {
    *error = "not an IP address: " + host;
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)) {
    *error = std::string("setsockopt: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    *error = "cannot bind " + host + " port " + std::to_string(port) + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int open_listen_socket(const std::string& host, std::uint16_t port, bool reuseport,
                       std::string* error) {
  int fd = bind_socket(host, port, reuseport, error);
  if (fd < 0) return -1;
  if (listen(fd, 4096) != 0) {
    *error = std::string("listen: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

bool port_is_free(const std::string& host, std::uint16_t port, std::string* error) {
  int fd = bind_socket(host, port, false, error);
  if (fd < 0) return false;
  close(fd);
  return true;
}

}  // namespace herd
