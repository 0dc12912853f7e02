// Client ids as NATS bucket keys (core/backbone_key): every id maps to a key of valid
// subject-token characters that maps back to the same id; every string that is accepted
// as a key is the canonical key of the id it gives.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/backbone_key.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string key = herd::bucket_key(in);
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '=';
    if (!ok) __builtin_trap();
  }
  auto back = herd::client_id_of_key(key);
  if (!in.empty() && (!back || *back != in)) __builtin_trap();
  if (auto id = herd::client_id_of_key(in)) {
    if (herd::bucket_key(*id) != in) __builtin_trap();
  }
  return 0;
}
