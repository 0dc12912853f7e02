#include "core/config.hpp"

#include <arpa/inet.h>
#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/fields.hpp"
#include "core/message.hpp"

namespace herd {
namespace {

struct ConfigError {
  std::string text;
};

class Checker {
 public:
  explicit Checker(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const toml::source_region& where, const std::string& key,
                         const std::string& problem) const {
    std::ostringstream os;
    os << path_ << ':' << where.begin.line << ':' << where.begin.column << ": " << key << ": "
       << problem;
    throw ConfigError{os.str()};
  }

  void only_keys(const toml::table& t, const std::string& prefix,
                 std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        fail(k.source(), prefix + std::string(k.str()), "unknown key");
      }
    }
  }

  std::string string_at(const toml::table& t, std::string_view key, const std::string& name,
                        const std::string& dflt) const {
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (!n->is_string()) fail(n->source(), name, "must be a string");
    return std::string(**n->as_string());
  }

  std::int64_t int_at(const toml::table& t, std::string_view key, const std::string& name,
                      std::int64_t dflt, std::int64_t lo, std::int64_t hi) const {
    const toml::node* n = t.get(key);
    if (!n) return dflt;
    if (!n->is_integer()) fail(n->source(), name, "must be an integer");
    std::int64_t v = **n->as_integer();
    if (v < lo || v > hi) {
      fail(n->source(), name, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return v;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool valid_ip(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool valid_server_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxServerNameBytes) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return is_space(c) || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::string folder_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

HerdConfig build(const toml::table& root, const std::string& path) {
  Checker c(path);
  HerdConfig cfg;
  cfg.path = path;
  c.only_keys(root, "", {"herd", "places", "tls", "backbone", "server"});
  std::string log_dir = "logs";
  if (const toml::node* h = root.get("herd")) {
    const toml::table* t = h->as_table();
    if (!t) c.fail(h->source(), "herd", "must be a table");
    c.only_keys(*t, "herd.",
                {"log_dir", "workers", "secret_env", "max_line_bytes", "max_connections",
                 "idle_timeout_s", "log_max_bytes", "log_keep"});
    log_dir = c.string_at(*t, "log_dir", "herd.log_dir", log_dir);
    if (log_dir.empty()) c.fail(t->get("log_dir")->source(), "herd.log_dir", "must not be empty");
    cfg.workers = static_cast<unsigned>(c.int_at(*t, "workers", "herd.workers", 0, 0, 1024));
    cfg.secret_env = c.string_at(*t, "secret_env", "herd.secret_env", cfg.secret_env);
    cfg.max_line_bytes = static_cast<std::uint32_t>(c.int_at(
        *t, "max_line_bytes", "herd.max_line_bytes", cfg.max_line_bytes, 64, kMaxLineBytesLimit));
    cfg.max_connections = static_cast<std::uint32_t>(
        c.int_at(*t, "max_connections", "herd.max_connections", cfg.max_connections, 1, 1000000));
    cfg.idle_timeout_s = static_cast<std::uint32_t>(
        c.int_at(*t, "idle_timeout_s", "herd.idle_timeout_s", 0, 0, 31536000));
    cfg.log_max_bytes = static_cast<std::uint64_t>(
        c.int_at(*t, "log_max_bytes", "herd.log_max_bytes",
                 static_cast<std::int64_t>(cfg.log_max_bytes), 0, std::int64_t{1} << 50));
    if (cfg.log_max_bytes != 0 && cfg.log_max_bytes < 4096) {
      c.fail(t->get("log_max_bytes")->source(), "herd.log_max_bytes",
             "must be 0 (never rotate) or at least 4096");
    }
    cfg.log_keep =
        static_cast<std::uint32_t>(c.int_at(*t, "log_keep", "herd.log_keep", 4, 0, 1000));
  }
  cfg.log_dir = log_dir[0] == '/' ? log_dir : folder_of(path) + "/" + log_dir;
  if (const toml::node* p = root.get("places")) {
    const toml::table* t = p->as_table();
    if (!t) c.fail(p->source(), "places", "must be a table");
    c.only_keys(*t, "places.",
                {"provider", "endpoint", "key_env", "timeout_ms", "data", "coalesce"});
    std::string provider = c.string_at(*t, "provider", "places.provider", "offline");
    if (provider == "offline") {
      cfg.places.provider = PlacesProviderKind::offline;
    } else if (provider == "google") {
      cfg.places.provider = PlacesProviderKind::google;
    } else if (provider == "google-legacy") {
      cfg.places.provider = PlacesProviderKind::google_legacy;
    } else if (provider == "x") {
      cfg.places.provider = PlacesProviderKind::x;
      cfg.places.key_env = "X_BEARER_TOKEN";
    } else if (provider == "wikipedia") {
      cfg.places.provider = PlacesProviderKind::wikipedia;
      cfg.places.key_env.clear();  // no key
    } else {
      c.fail(t->get("provider")->source(), "places.provider",
             "must be \"offline\", \"google\", \"google-legacy\", \"x\" or \"wikipedia\", not \"" +
                 provider + "\"");
    }
    cfg.places.provider_name = provider;
    cfg.places.endpoint = c.string_at(*t, "endpoint", "places.endpoint", "");
    if (!cfg.places.endpoint.empty() && cfg.places.endpoint.rfind("http://", 0) != 0 &&
        cfg.places.endpoint.rfind("https://", 0) != 0) {
      c.fail(t->get("endpoint")->source(), "places.endpoint", "must be an http:// or https:// URL");
    }
    cfg.places.key_env = c.string_at(*t, "key_env", "places.key_env", cfg.places.key_env);
    if (cfg.places.provider == PlacesProviderKind::wikipedia && !cfg.places.key_env.empty()) {
      c.fail(t->get("key_env")->source(), "places.key_env",
             "the wikipedia provider takes no key (remove key_env)");
    }
    cfg.places.timeout_ms = static_cast<std::uint32_t>(
        c.int_at(*t, "timeout_ms", "places.timeout_ms", 5000, 1, 600000));
    std::string data = c.string_at(*t, "data", "places.data", "");
    if (!data.empty() && data[0] != '/') data = folder_of(path) + "/" + data;
    cfg.places.data = data;
    if (const toml::node* n = t->get("coalesce")) {
      if (!n->is_boolean()) c.fail(n->source(), "places.coalesce", "must be true or false");
      cfg.places.coalesce = **n->as_boolean();
    }
  }
  auto resolve = [&path](const std::string& file) {
    return file[0] == '/' ? file : folder_of(path) + "/" + file;
  };
  if (const toml::node* n = root.get("tls")) {
    const toml::table* t = n->as_table();
    if (!t) c.fail(n->source(), "tls", "must be a table");
    c.only_keys(*t, "tls.", {"ca"});
    if (!t->get("ca")) c.fail(t->source(), "tls.ca", "is required (the herd's CA certificate)");
    std::string ca = c.string_at(*t, "ca", "tls.ca", "");
    if (ca.empty()) c.fail(t->get("ca")->source(), "tls.ca", "must not be empty");
    cfg.tls.enabled = true;
    cfg.tls.ca = resolve(ca);
  }
  if (const toml::node* n = root.get("backbone")) {
    const toml::table* t = n->as_table();
    if (!t) c.fail(n->source(), "backbone", "must be a table");
    c.only_keys(*t, "backbone.", {"kind", "servers", "bucket", "replicas", "creds_env"});
    BackboneConfig& b = cfg.backbone;
    const std::string kind = c.string_at(*t, "kind", "backbone.kind", "links");
    if (kind == "nats") {
      b.kind = BackboneKind::nats;
    } else if (kind != "links") {
      c.fail(t->get("kind")->source(), "backbone.kind",
             "must be \"links\" or \"nats\", not \"" + kind + "\"");
    }
    if (const toml::node* sv = t->get("servers")) {
      const toml::array* a = sv->as_array();
      if (!a) c.fail(sv->source(), "backbone.servers", "must be an array of NATS URLs");
      for (const toml::node& e : *a) {
        if (!e.is_string() || !valid_nats_url(std::string(**e.as_string()))) {
          c.fail(e.source(), "backbone.servers",
                 "must be nats://IP:PORT or tls://IP:PORT URLs with an IP literal (herd does "
                 "not resolve names)");
        }
        b.servers.emplace_back(**e.as_string());
      }
    }
    if (b.kind == BackboneKind::nats && b.servers.empty()) {
      c.fail(t->source(), "backbone.servers", "needs at least one NATS URL when kind is \"nats\"");
    }
    b.bucket = c.string_at(*t, "bucket", "backbone.bucket", b.bucket);
    const bool bucket_ok = !b.bucket.empty() && b.bucket.size() <= 64 &&
                           std::all_of(b.bucket.begin(), b.bucket.end(), [](char ch) {
                             return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
                           });
    if (!bucket_ok) {
      c.fail(t->get("bucket")->source(), "backbone.bucket",
             "must be 1 to 64 letters, digits, '_' or '-' (a JetStream bucket name)");
    }
    b.replicas = static_cast<int>(c.int_at(*t, "replicas", "backbone.replicas", 1, 1, 5));
    b.creds_env = c.string_at(*t, "creds_env", "backbone.creds_env", "");
  }
  const toml::node* s = root.get("server");
  if (!s)
    c.fail(toml::source_region{{1, 1}, {1, 1}, nullptr}, "server",
           "at least one [[server]] table is required");
  const toml::array* arr = s->as_array();
  if (!arr || !arr->is_array_of_tables() || arr->empty()) {
    c.fail(s->source(), "server", "must be one or more [[server]] tables");
  }
  std::set<std::pair<std::string, int>> endpoints;
  std::vector<std::pair<const toml::node*, std::string>> neighbor_nodes;  // for later checks
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::table& t = *arr->get(i)->as_table();
    const std::string prefix = "server[" + std::to_string(i + 1) + "]";
    c.only_keys(t, prefix + ".",
                {"name", "host", "port", "neighbors", "admin_host", "admin_port", "tls_cert",
                 "tls_key", "tls_port"});
    ServerConfig sc;
    if (!t.get("name")) c.fail(t.source(), prefix + ".name", "is required");
    sc.name = c.string_at(t, "name", prefix + ".name", "");
    if (!valid_server_name(sc.name)) {
      c.fail(t.get("name")->source(), prefix + ".name",
             "must be 1 to 64 bytes with no white space or control bytes");
    }
    if (cfg.find(sc.name))
      c.fail(t.get("name")->source(), prefix + ".name",
             "duplicate server name \"" + sc.name + "\"");
    sc.host = c.string_at(t, "host", prefix + ".host", "127.0.0.1");
    if (!valid_ip(sc.host)) {
      c.fail(t.get("host")->source(), prefix + ".host",
             "must be an IPv4 or IPv6 address (herd does not resolve names)");
    }
    if (!t.get("port")) c.fail(t.source(), prefix + ".port", "is required");
    sc.port = static_cast<std::uint16_t>(c.int_at(t, "port", prefix + ".port", 0, 1, 65535));
    if (!endpoints.emplace(sc.host, sc.port).second) {
      c.fail(t.get("port")->source(), prefix + ".port",
             "another server already uses " + sc.host + " port " + std::to_string(sc.port));
    }
    sc.admin_host = c.string_at(t, "admin_host", prefix + ".admin_host", "127.0.0.1");
    if (!valid_ip(sc.admin_host)) {
      c.fail(t.get("admin_host")->source(), prefix + ".admin_host",
             "must be an IPv4 or IPv6 address");
    }
    sc.admin_port =
        static_cast<std::uint16_t>(c.int_at(t, "admin_port", prefix + ".admin_port", 0, 0, 65535));
    if (sc.admin_port != 0 && !endpoints.emplace(sc.admin_host, sc.admin_port).second) {
      c.fail(t.get("admin_port")->source(), prefix + ".admin_port",
             "another server already uses " + sc.admin_host + " port " +
                 std::to_string(sc.admin_port));
    }
    for (auto [key, field] : {std::pair{"tls_cert", &sc.tls_cert}, {"tls_key", &sc.tls_key}}) {
      const std::string name = prefix + "." + key;
      *field = c.string_at(t, key, name, "");
      if (t.get(key) && field->empty()) c.fail(t.get(key)->source(), name, "must not be empty");
      if (!cfg.tls.enabled && !field->empty())
        c.fail(t.get(key)->source(), name, "needs a [tls] table naming the herd's CA");
      if (cfg.tls.enabled && field->empty())
        c.fail(t.source(), name, "is required when [tls] is present (every link runs over TLS)");
      if (!field->empty()) *field = resolve(*field);
    }
    sc.tls_port =
        static_cast<std::uint16_t>(c.int_at(t, "tls_port", prefix + ".tls_port", 0, 0, 65535));
    if (sc.tls_port != 0 && !cfg.tls.enabled) {
      c.fail(t.get("tls_port")->source(), prefix + ".tls_port",
             "needs a [tls] table and this server's tls_cert and tls_key");
    }
    if (sc.tls_port != 0 && !endpoints.emplace(sc.host, sc.tls_port).second) {
      c.fail(t.get("tls_port")->source(), prefix + ".tls_port",
             "another server already uses " + sc.host + " port " + std::to_string(sc.tls_port));
    }
    if (const toml::node* n = t.get("neighbors")) {
      const toml::array* na = n->as_array();
      if (!na) c.fail(n->source(), prefix + ".neighbors", "must be an array of server names");
      for (const toml::node& e : *na) {
        if (!e.is_string())
          c.fail(e.source(), prefix + ".neighbors", "must be an array of server names");
        std::string nb(**e.as_string());
        if (nb == sc.name)
          c.fail(e.source(), prefix + ".neighbors", "a server cannot be its own neighbour");
        sc.neighbors.push_back(nb);
        neighbor_nodes.emplace_back(&e, prefix + ".neighbors");
      }
    }
    cfg.servers.push_back(std::move(sc));
  }
  // Every neighbour must be a server; links named on one side are two-way.
  for (auto& [node, key] : neighbor_nodes) {
    std::string nb(**node->as_string());
    if (!cfg.find(nb)) c.fail(node->source(), key, "\"" + nb + "\" is not a server of this herd");
  }
  for (auto& sc : cfg.servers) {
    for (const auto& nb : sc.neighbors) {
      for (auto& other : cfg.servers) {
        if (other.name == nb) other.neighbors.push_back(sc.name);
      }
    }
  }
  for (auto& sc : cfg.servers) {
    std::sort(sc.neighbors.begin(), sc.neighbors.end());
    sc.neighbors.erase(std::unique(sc.neighbors.begin(), sc.neighbors.end()), sc.neighbors.end());
  }
  return cfg;
}

}  // namespace

bool valid_nats_url(const std::string& url) {
  std::string_view rest = url;
  if (rest.rfind("nats://", 0) == 0) {
    rest.remove_prefix(7);
  } else if (rest.rfind("tls://", 0) == 0) {
    rest.remove_prefix(6);
  } else {
    return false;
  }
  std::string host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return false;
    host = std::string(rest.substr(1, close - 1));
    port = rest.substr(close + 2);
    unsigned char buf[16];
    if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return false;
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
    unsigned char buf[4];
    if (inet_pton(AF_INET, host.c_str(), buf) != 1) return false;
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return false;
  const int p = std::stoi(std::string(port));
  return p >= 1 && p <= 65535;
}

const ServerConfig* HerdConfig::find(const std::string& name) const {
  for (const auto& s : servers) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::optional<HerdConfig> parse_config(const std::string& text, const std::string& path,
                                       std::string* error) {
  try {
    toml::table root = toml::parse(text, path);
    return build(root, path);
  } catch (const toml::parse_error& e) {
    if (error) {
      std::ostringstream os;
      os << path << ':' << e.source().begin.line << ':' << e.source().begin.column
         << ": (syntax): " << e.description();
      *error = os.str();
    }
  } catch (const ConfigError& e) {
    if (error) *error = e.text;
  }
  return std::nullopt;
}

std::optional<HerdConfig> load_config(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = path + ": cannot read the file: " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, error);
}

}  // namespace herd
