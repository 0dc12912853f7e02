#pragma once
// Client ids as keys of the NATS key-value bucket (PROTOCOL.md section 12). An id made
// only of [A-Za-z0-9_-] is its own key; any other id becomes "=" followed by the id's
// bytes in lower-case hex, which is reversible and never collides with a plain id (those
// never contain '='). Pure.
#include <optional>
#include <string>
#include <string_view>

namespace herd {

std::string bucket_key(std::string_view client_id);

// The client id a key stands for; nullopt for a key no client id maps to.
std::optional<std::string> client_id_of_key(std::string_view key);

}  // namespace herd
