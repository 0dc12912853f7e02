#pragma once
// The herd command line (PROTOCOL.md section 9). Pure.
#include <optional>
#include <string>
#include <vector>

namespace herd {

struct CliArgs {
  enum class Mode { run, check, help, version, health } mode = Mode::run;
  std::string config;
  std::string name;    // run: the server; check: only this server's TLS files (optional)
  std::string health;  // --health HOST:PORT (an admin listener)
};

constexpr const char* kUsage =
    "usage: herd --config FILE --name NAME   run one server of the herd\n"
    "       herd --config FILE --check [--name NAME]\n"
    "                                        validate the config (and the TLS files of every\n"
    "                                        server, or of NAME only) and exit\n"
    "       herd --health HOST:PORT              ask a server's admin listener /healthz\n"
    "       herd --help | --version\n";

// Parses argv[1..]; accepts "--opt value" and "--opt=value". On error returns nullopt
// and sets *error.
std::optional<CliArgs> parse_cli_args(const std::vector<std::string>& args, std::string* error);

}  // namespace herd
