#include "core/backbone_key.hpp"

namespace herd {
namespace {

bool plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string bucket_key(std::string_view client_id) {
  bool plain = !client_id.empty();
  for (char c : client_id) plain = plain && plain_char(c);
  if (plain) return std::string(client_id);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  key.reserve(1 + 2 * client_id.size());
  key.push_back('=');
  for (unsigned char c : client_id) {
    key.push_back(kHex[c >> 4]);
    key.push_back(kHex[c & 15]);
  }
  return key;
}

std::optional<std::string> client_id_of_key(std::string_view key) {
  if (key.empty()) return std::nullopt;
  if (key.front() != '=') {
    for (char c : key) {
      if (!plain_char(c)) return std::nullopt;
    }
    return std::string(key);
  }
  key.remove_prefix(1);
  if (key.empty() || key.size() % 2 != 0) return std::nullopt;
  std::string id;
  id.reserve(key.size() / 2);
  for (std::size_t i = 0; i < key.size(); i += 2) {
    const int hi = hex_value(key[i]), lo = hex_value(key[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.push_back(static_cast<char>(hi * 16 + lo));
  }
  // The canonical key of that id must be this one (a plain id is never hex-escaped).
  if (bucket_key(id) != "=" + std::string(key)) return std::nullopt;
  return id;
}

}  // namespace herd
