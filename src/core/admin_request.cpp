#include "core/admin_request.hpp"

namespace herd {

AdminRequest parse_admin_request(std::string_view buf, std::size_t& scanned,
                                 std::size_t max_bytes) {
  AdminRequest r;
  // A terminator may straddle the previous end: look again at its last 3 bytes.
  std::size_t i = scanned > 3 ? scanned - 3 : 0;
  std::size_t end = std::string_view::npos;
  for (; i < buf.size(); ++i) {
    if (buf[i] != '\n') continue;
    if (i >= 1 && buf[i - 1] == '\n') {
      end = i;
      break;
    }
    if (i >= 3 && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
      end = i;
      break;
    }
  }
  scanned = buf.size();
  if (end == std::string_view::npos || end >= max_bytes) {
    if (buf.size() > max_bytes) r.state = AdminRequest::State::too_long;
    return r;
  }
  r.state = AdminRequest::State::complete;
  std::string_view line = buf.substr(0, buf.find_first_of("\r\n"));
  const std::size_t sp = line.find(' ');
  r.method = line.substr(0, sp);
  if (sp != std::string_view::npos) {
    std::string_view rest = line.substr(sp + 1);
    r.target = rest.substr(0, rest.find(' '));
  }
  return r;
}

}  // namespace herd
