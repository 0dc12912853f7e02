// herd.toml (PROTOCOL.md section 8) and the command line (section 9).
#include <doctest/doctest.h>

#include "core/cli_args.hpp"
#include "core/config.hpp"
#include "core/log_escape.hpp"

using namespace herd;

namespace {
const std::string kServers =
    "[[server]]\nname = \"A\"\nport = 1000\nneighbors = [\"B\"]\n"
    "[[server]]\nname = \"B\"\nhost = \"127.0.0.1\"\nport = 1001\n"
    "[[server]]\nname = \"C\"\nhost = \"::1\"\nport = 1000\nneighbors = [\"B\"]\n";

std::string error_of(const std::string& text) {
  std::string err;
  auto c = parse_config(text, "dir/h.toml", &err);
  CHECK_FALSE(c);
  return err;
}
}  // namespace

TEST_CASE("defaults, relative log_dir, two-way neighbours") {
  std::string err;
  auto c = parse_config(kServers, "dir/h.toml", &err);
  REQUIRE_MESSAGE(c, err);
  CHECK(c->log_dir == "dir/logs");
  CHECK(c->workers == 0);
  CHECK(c->secret_env == "HERD_SECRET");
  CHECK(c->max_line_bytes == 8192);
  CHECK(c->places.provider == PlacesProviderKind::offline);
  CHECK(c->places.timeout_ms == 5000);
  CHECK(c->places.key_env == "GOOGLE_PLACES_API_KEY");
  REQUIRE(c->servers.size() == 3);
  CHECK(c->servers[0].host == "127.0.0.1");
  CHECK(c->find("B")->neighbors == std::vector<std::string>{"A", "C"});
  CHECK(c->find("A")->neighbors == std::vector<std::string>{"B"});
}

TEST_CASE("every key parsed") {
  std::string err;
  auto c = parse_config(
      "[herd]\nlog_dir = \"/var/log/herd\"\nworkers = 3\nsecret_env = \"S\"\nmax_line_bytes = 100\n"
      "[places]\nprovider = \"google-legacy\"\nendpoint = \"http://127.0.0.1:9/x\"\nkey_env = "
      "\"K\"\n"
      "timeout_ms = 250\ncoalesce = false\n" +
          kServers,
      "h.toml", &err);
  REQUIRE_MESSAGE(c, err);
  CHECK(c->log_dir == "/var/log/herd");
  CHECK(c->workers == 3);
  CHECK(c->max_line_bytes == 100);
  CHECK(c->places.provider == PlacesProviderKind::google_legacy);
  CHECK(c->places.endpoint == "http://127.0.0.1:9/x");
  CHECK(c->places.timeout_ms == 250);
  CHECK_FALSE(c->places.coalesce);
}

TEST_CASE("the x provider reads its bearer token from X_BEARER_TOKEN; wikipedia takes no key") {
  std::string err;
  auto x = parse_config("[places]\nprovider = \"x\"\n" + kServers, "h.toml", &err);
  REQUIRE_MESSAGE(x, err);
  CHECK(x->places.provider == PlacesProviderKind::x);
  CHECK(x->places.key_env == "X_BEARER_TOKEN");
  auto named =
      parse_config("[places]\nprovider = \"x\"\nkey_env = \"MY_X\"\n" + kServers, "h.toml", &err);
  REQUIRE_MESSAGE(named, err);
  CHECK(named->places.key_env == "MY_X");
  auto w = parse_config(
      "[places]\nprovider = \"wikipedia\"\nendpoint = "
      "\"https://de.wikipedia.org/w/api.php\"\n" +
          kServers,
      "h.toml", &err);
  REQUIRE_MESSAGE(w, err);
  CHECK(w->places.provider == PlacesProviderKind::wikipedia);
  CHECK(w->places.key_env.empty());
  CHECK(w->places.endpoint == "https://de.wikipedia.org/w/api.php");
  CHECK(error_of("[places]\nprovider = \"wikipedia\"\nkey_env = \"K\"\n" + kServers) ==
        "dir/h.toml:3:11: places.key_env: the wikipedia provider takes no key (remove key_env)");
  CHECK(error_of("[places]\nprovider = \"twitter\"\n" + kServers)
            .find("must be \"offline\", \"google\", \"google-legacy\", \"x\" or "
                  "\"wikipedia\", not \"twitter\"") != std::string::npos);
}

TEST_CASE("errors name the file, the position, the key and the problem") {
  CHECK(error_of("[herd]\nworkerz = 1\n" + kServers) ==
        "dir/h.toml:2:1: herd.workerz: unknown key");
  CHECK(error_of("[herd]\nworkers = -1\n" + kServers) ==
        "dir/h.toml:2:11: herd.workers: must be from 0 to 1024");
  CHECK(error_of("[herd]\nworkers = \"2\"\n" + kServers) ==
        "dir/h.toml:2:11: herd.workers: must be an integer");
  CHECK(error_of("[places]\nprovider = \"bing\"\n" + kServers).find("places.provider: must be") !=
        std::string::npos);
  CHECK(
      error_of("[places]\ntimeout_ms = 0\n" + kServers).find("places.timeout_ms: must be from 1") !=
      std::string::npos);
  CHECK(error_of("[places]\nendpoint = \"ftp://x\"\n" + kServers).find("places.endpoint:") !=
        std::string::npos);
  CHECK(error_of("[herd]\n").find("server: at least one") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"A\"\nport = 2000\n")
            .find("server[4].name: duplicate server name") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\nport = 1001\n")
            .find("server[4].port: another server") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\nport = 70000\n")
            .find("server[4].port: must be from 1 to 65535") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\n").find("server[4].port: is required") !=
        std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\nport = 5\nneighbors = [\"Z\"]\n")
            .find("server[4].neighbors: \"Z\" is not a server") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\nport = 5\nneighbors = [\"D\"]\n")
            .find("own neighbour") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D E\"\nport = 5\n")
            .find("server[4].name: must be") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\nport = 5\nhost = \"localhost\"\n")
            .find("server[4].host:") != std::string::npos);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\nport = 5\ncolour = 1\n") ==
        "dir/h.toml:17:1: server[4].colour: unknown key");
  CHECK(error_of("[[server]\nname=1").find("dir/h.toml:1:") == 0);
}

TEST_CASE("command line") {
  std::string err;
  auto a = parse_cli_args({"--config", "h.toml", "--name", "Ball"}, &err);
  REQUIRE(a);
  CHECK(a->mode == CliArgs::Mode::run);
  CHECK(a->config == "h.toml");
  CHECK(a->name == "Ball");
  a = parse_cli_args({"--config=h.toml", "--check"}, &err);
  REQUIRE(a);
  CHECK(a->mode == CliArgs::Mode::check);
  CHECK(parse_cli_args({"--help"}, &err)->mode == CliArgs::Mode::help);
  CHECK(parse_cli_args({"--version"}, &err)->mode == CliArgs::Mode::version);
  CHECK_FALSE(parse_cli_args({"--config", "h.toml"}, &err));
  CHECK(err == "--name is required (or --check)");
  CHECK_FALSE(parse_cli_args({"--name", "Ball"}, &err));
  CHECK(err == "--config is required");
  CHECK_FALSE(parse_cli_args({"--config"}, &err));
  CHECK_FALSE(parse_cli_args({"--config", "h", "--name", "B", "--bogus"}, &err));
  CHECK(err == "unknown argument: --bogus");
  // --check --name B checks B's TLS files only (a host holds only its own key).
  auto one = parse_cli_args({"--config", "h", "--check", "--name", "B"}, &err);
  REQUIRE(one);
  CHECK(one->mode == CliArgs::Mode::check);
  CHECK(one->name == "B");
}

TEST_CASE("log escaping keeps one entry on one line") {
  CHECK(log_escaped("a\nb\rc\td\\e\x01\x7f\xc3\xa9") == "a\\nb\\rc\\td\\\\e\\x01\\x7f\xc3\xa9");
  CHECK(log_escaped("").empty());
  CHECK(log_escaped("plain AT line +1+1 1") == "plain AT line +1+1 1");
  CHECK(log_escaped(std::string("\0\x1f\x7f\x80\\", 5)) == "\\x00\\x1f\\x7f\x80\\\\");
  CHECK(log_escaped("\n\n") == "\\n\\n");
}

TEST_CASE("log escaping: every byte value at every place of a 16-byte block and its tail") {
  auto reference = [](std::string_view in) {
    std::string out;
    for (unsigned char c : in) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20 || c == 0x7f) {
        static const char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
    return out;
  };
  for (int c = 0; c < 256; ++c) {
    for (std::size_t at : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 40u}) {
      std::string in(41, 'a');
      in[at] = static_cast<char>(c);
      CHECK(log_escaped(in) == reference(in));
    }
  }
}

TEST_CASE("admin listener keys and --health") {
  std::string err;
  auto c = parse_config(kServers + "[[server]]\nname = \"D\"\nport = 5\nadmin_port = 9100\n",
                        "h.toml", &err);
  REQUIRE_MESSAGE(c, err);
  CHECK(c->find("D")->admin_port == 9100);
  CHECK(c->find("D")->admin_host == "127.0.0.1");
  CHECK(c->find("A")->admin_port == 0);
  CHECK(error_of(kServers + "[[server]]\nname = \"D\"\nport = 5\nadmin_port = 1001\n")
            .find("server[4].admin_port: another server already uses 127.0.0.1 port 1001") !=
        std::string::npos);
  auto a = parse_cli_args({"--health", "127.0.0.1:9100"}, &err);
  REQUIRE(a);
  CHECK(a->mode == CliArgs::Mode::health);
  CHECK(a->health == "127.0.0.1:9100");
  CHECK_FALSE(parse_cli_args({"--health", "x:1", "--config", "h"}, &err));
}

TEST_CASE("[tls] and the servers' TLS keys (PROTOCOL.md section 11)") {
  const std::string tls_servers =
      "[tls]\nca = \"certs/ca.pem\"\n"
      "[[server]]\nname = \"A\"\nport = 1000\ntls_cert = \"certs/A.pem\"\n"
      "tls_key = \"/keys/A.key\"\ntls_port = 2000\n"
      "[[server]]\nname = \"B\"\nport = 1001\ntls_cert = \"B.pem\"\ntls_key = \"B.key\"\n";
  std::string err;
  auto c = parse_config(tls_servers, "dir/h.toml", &err);
  REQUIRE_MESSAGE(c, err);
  CHECK(c->tls.enabled);
  CHECK(c->tls.ca == "dir/certs/ca.pem");
  CHECK(c->find("A")->tls_cert == "dir/certs/A.pem");
  CHECK(c->find("A")->tls_key == "/keys/A.key");
  CHECK(c->find("A")->tls_port == 2000);
  CHECK(c->find("B")->tls_port == 0);
  auto plain = parse_config(kServers, "h.toml", &err);
  REQUIRE(plain);
  CHECK_FALSE(plain->tls.enabled);

  CHECK(error_of("[tls]\n" + kServers).find("tls.ca: is required") != std::string::npos);
  CHECK(error_of("[tls]\nca = \"\"\n" + kServers).find("tls.ca: must not be empty") !=
        std::string::npos);
  CHECK(error_of("[tls]\nca = \"x\"\ncert = \"y\"\n" + kServers).find("tls.cert: unknown key") !=
        std::string::npos);
  CHECK(error_of("[tls]\nca = \"x\"\n" + kServers)
            .find("server[1].tls_cert: is required when [tls] is present") != std::string::npos);
  CHECK(error_of("[[server]]\nname = \"A\"\nport = 1\ntls_cert = \"a\"\n")
            .find("server[1].tls_cert: needs a [tls] table") != std::string::npos);
  CHECK(error_of("[[server]]\nname = \"A\"\nport = 1\ntls_port = 2\n")
            .find("server[1].tls_port: needs a [tls] table") != std::string::npos);
  std::string clash = tls_servers;
  clash.replace(clash.find("tls_port = 2000"), 15, "tls_port = 1001");
  CHECK(error_of(clash).find("server[2].port: another server already uses 127.0.0.1 port 1001") !=
        std::string::npos);
  std::string same = tls_servers;
  same.replace(same.find("tls_port = 2000"), 15, "tls_port = 1000");
  CHECK(error_of(same).find("server[1].tls_port: another server already uses") !=
        std::string::npos);
}
