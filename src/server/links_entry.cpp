#include "server/links_entry.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "server/links.hpp"
#include "server/logging.hpp"

namespace herd {

bool is_link_hello(std::string_view line) {
  return line.rfind("HERD-HELLO ", 0) == 0;
}

namespace {

// The session closes its handle (and fd); a duplicate keeps the socket for the link.
// dup() rather than fcntl(F_DUPFD_CLOEXEC): ThreadSanitizer tracks descriptors through
// dup but not through fcntl, and would otherwise see the link's writes race with the
// accept that created the socket on another worker.
int duplicate_socket(uv_tcp_t* tcp) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) != 0) return -1;
  int dup = ::dup(fd);
  if (dup < 0) {
    log().error("link hand-over: cannot duplicate the socket");
    return -1;
  }
  fcntl(dup, F_SETFD, FD_CLOEXEC);
  return dup;
}

}  // namespace

bool hand_over_to_links(ServerContext& ctx, uv_tcp_t* tcp, std::string_view hello_line,
                        std::string_view peer) {
  if (!ctx.links) return false;
  const int fd = duplicate_socket(tcp);
  if (fd < 0) return false;
  ctx.links->post_incoming(fd, std::string(hello_line), std::string(peer), false);
  return true;
}

bool hand_over_tls_to_links(ServerContext& ctx, uv_tcp_t* tcp, std::string_view first,
                            std::string_view peer) {
  if (!ctx.links || !ctx.tls) return false;
  const int fd = duplicate_socket(tcp);
  if (fd < 0) return false;
  ctx.links->post_incoming(fd, std::string(first), std::string(peer), true);
  return true;
}

bool is_link_wake(std::string_view line) {
  return line.rfind("HERD-WAKE ", 0) == 0;
}

}  // namespace herd
