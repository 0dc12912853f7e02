#pragma once
// State shared by every worker of one server process. Set up before the workers start
// and immutable afterwards, except the client table (thread-safe) and the counters.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/client_table.hpp"
#include "core/config.hpp"
#include "core/offline_places.hpp"
#include "server/metrics.hpp"

namespace herd {

class Links;
class NatsBackbone;
class TlsHolder;

struct ServerContext {
  const HerdConfig* config = nullptr;
  const ServerConfig* self = nullptr;
  ClientTable table;
  std::unique_ptr<OfflinePlaces> offline;  // loaded when the provider is "offline"
  std::string secret;                      // link secret; empty = development mode
  std::atomic<std::uint64_t> next_connection_id{1};
  // Client connections open on every worker, held to config->max_connections.
  std::atomic<std::uint32_t> client_connections{0};
  Links* links = nullptr;        // owned by worker 0; null when the server has no neighbours
  NatsBackbone* nats = nullptr;  // the NATS backbone (PROTOCOL.md section 12); null: links
  TlsHolder* tls = nullptr;      // the TLS contexts (PROTOCOL.md section 11); null without [tls]
  std::unique_ptr<Metrics> metrics;
};

}  // namespace herd
