#pragma once
// herd.toml (PROTOCOL.md section 8): loading and validation. Pure (no I/O beyond reading
// the file), so every rule is unit-tested.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace herd {

// PROTOCOL.md section 2: max_line_bytes is at most this.
constexpr std::uint32_t kMaxLineBytesLimit = 65536;

enum class PlacesProviderKind { offline, google, google_legacy, x, wikipedia };

struct PlacesConfig {
  PlacesProviderKind provider = PlacesProviderKind::offline;
  std::string provider_name = "offline";
  std::string endpoint;  // empty: the provider's own URL
  std::string key_env = "GOOGLE_PLACES_API_KEY";
  std::uint32_t timeout_ms = 5000;
  std::string data;      // offline data file; empty: the built-in default (herd extension)
  bool coalesce = true;  // share identical lookups in flight (herd extension, for benchmarks)
};

struct ServerConfig {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
  std::vector<std::string> neighbors;  // both directions merged, sorted, unique
  // Admin listener (/healthz, /metrics): off when admin_port is 0 (herd extension).
  std::string admin_host = "127.0.0.1";
  std::uint16_t admin_port = 0;
  // TLS (PROTOCOL.md section 11): this server's certificate and key (paths resolved
  // against the config file's folder; required for every server when [tls] is present)
  // and an optional client port speaking the protocol over TLS (0: none).
  std::string tls_cert, tls_key;
  std::uint16_t tls_port = 0;
};

// PROTOCOL.md section 12: where records travel between servers.
enum class BackboneKind { links, nats };

struct BackboneConfig {
  BackboneKind kind = BackboneKind::links;
  std::vector<std::string> servers;  // nats:// or tls:// URLs with an IP literal and a port
  std::string bucket = "herd";       // JetStream key-value bucket: [A-Za-z0-9_-], 1..64 bytes
  int replicas = 1;                  // 1..5 copies of the bucket's stream
  std::string creds_env;             // env var naming a NATS credentials file; empty: none
};

// Whether a NATS server URL is nats://IP:PORT or tls://IP:PORT (IPv6 in brackets).
bool valid_nats_url(const std::string& url);

struct TlsConfig {
  bool enabled = false;  // [tls] is present: every link runs over mutual TLS
  std::string ca;        // the herd's CA (PEM), resolved against the config file's folder
};

struct HerdConfig {
  std::string path;      // the config file as given
  std::string log_dir;   // resolved against the config file's folder
  unsigned workers = 0;  // 0 = one per CPU core
  std::string secret_env = "HERD_SECRET";
  std::uint32_t max_line_bytes = 8192;      // 64 .. kMaxLineBytesLimit
  std::uint32_t max_connections = 10000;    // client connections per server
  std::uint32_t idle_timeout_s = 0;         // 0: never
  std::uint64_t log_max_bytes = 268435456;  // rotate at this size; 0: never
  std::uint32_t log_keep = 4;               // rotated files kept
  PlacesConfig places;
  TlsConfig tls;
  BackboneConfig backbone;
  std::vector<ServerConfig> servers;

  const ServerConfig* find(const std::string& name) const;
};

// Parses TOML text. On error returns nullopt and sets *error to
// "<path>:<line>:<column>: <key>: <problem>".
std::optional<HerdConfig> parse_config(const std::string& text, const std::string& path,
                                       std::string* error);

// Reads and parses a file (same error format; an unreadable file is reported too).
std::optional<HerdConfig> load_config(const std::string& path, std::string* error);

}  // namespace herd
