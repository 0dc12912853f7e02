#include "core/cli_args.hpp"

namespace herd {

std::optional<CliArgs> parse_cli_args(const std::vector<std::string>& args, std::string* error) {
  CliArgs out;
  bool check = false, help = false, version = false;
  auto fail = [&](const std::string& what) {
    if (error) *error = what;
    return std::nullopt;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      auto eq = arg.find('=');
      if (eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    }
    auto value = [&](std::string& into) -> bool {
      if (inline_value) {
        into = *inline_value;
      } else if (i + 1 < args.size()) {
        into = args[++i];
      } else {
        return false;
      }
      return !into.empty();
    };
    if (arg == "--config") {
      if (!out.config.empty()) return fail("--config given twice");
      if (!value(out.config)) return fail("--config needs a file name");
    } else if (arg == "--name") {
      if (!out.name.empty()) return fail("--name given twice");
      if (!value(out.name)) return fail("--name needs a server name");
    } else if (arg == "--health") {
      if (!value(out.health)) return fail("--health needs HOST:PORT");
    } else if (arg == "--check" && !inline_value) {
      check = true;
    } else if ((arg == "--help" || arg == "-h") && !inline_value) {
      help = true;
    } else if (arg == "--version" && !inline_value) {
      version = true;
    } else {
      return fail("unknown argument: " + args[i]);
    }
  }
  if (help) {
    out.mode = CliArgs::Mode::help;
    return out;
  }
  if (version) {
    out.mode = CliArgs::Mode::version;
    return out;
  }
  if (!out.health.empty()) {
    if (!out.config.empty() || !out.name.empty() || check)
      return fail("--health takes no other option");
    out.mode = CliArgs::Mode::health;
    return out;
  }
  if (out.config.empty()) return fail("--config is required");
  if (check) {
    out.mode = CliArgs::Mode::check;
    return out;
  }
  if (out.name.empty()) return fail("--name is required (or --check)");
  return out;
}

}  // namespace herd
