// Fuzzes herd.toml parsing: never crashes; an accepted config obeys every documented rule,
// and a refused one says where.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "core/config.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto cfg = parse_config(text, "fuzz.toml", &error);
  if (!cfg) {
    if (error.rfind("fuzz.toml:", 0) != 0) std::abort();
    return 0;
  }
  if (cfg->servers.empty()) std::abort();
  if (cfg->max_line_bytes < 64 || cfg->max_line_bytes > kMaxLineBytesLimit) std::abort();
  if (cfg->max_connections < 1) std::abort();
  if (cfg->log_max_bytes != 0 && cfg->log_max_bytes < 4096) std::abort();
  std::set<std::string> names;
  for (const auto& s : cfg->servers) {
    if (!names.insert(s.name).second || s.port == 0) std::abort();
    for (const auto& n : s.neighbors) {
      if (n == s.name || !cfg->find(n)) std::abort();
    }
  }
  return 0;
}
