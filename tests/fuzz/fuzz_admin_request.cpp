// Fuzzes the admin request parser: fed in pieces it agrees with one call over the whole
// buffer, and it never looks past its size limit.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/admin_request.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = 1 + data[0] % 17;
  const std::string all(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t whole_scanned = 0;
  AdminRequest whole = parse_admin_request(all, whole_scanned, 256);
  std::string buf;
  std::size_t scanned = 0;
  AdminRequest r;
  for (std::size_t pos = 0; pos < all.size() && r.state == AdminRequest::State::need_more;
       pos += step) {
    buf.append(all, pos, step);
    r = parse_admin_request(buf, scanned, 256);
  }
  if (r.state == AdminRequest::State::complete) {
    if (whole.state != AdminRequest::State::complete || r.method != whole.method ||
        r.target != whole.target)
      std::abort();
  }
  if (whole.state == AdminRequest::State::complete && r.state == AdminRequest::State::too_long)
    std::abort();
  return 0;
}
