// Fuzzes the link handshake lines and nonce checks.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/link_handshake.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  LinkLine l = parse_link_line(s);
  auto inside = [&](std::string_view f) {
    return f.empty() || (f.data() >= s.data() && f.data() + f.size() <= s.data() + s.size());
  };
  if (!inside(l.a) || !inside(l.b) || !inside(l.c)) std::abort();
  if (l.kind == LinkLineKind::hello && (l.a.empty() || l.b.empty() || l.c.empty())) std::abort();
  if (valid_nonce(l.c) && (l.c.size() < 32 || l.c.size() > 64)) std::abort();
  (void)proof_matches(l.a, l.b);
  return 0;
}
