// herd: one server of a proxy server herd. See PROTOCOL.md section 9.
#include <curl/curl.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/cli_args.hpp"
#include "core/config.hpp"
#include "herd_build_config.hpp"
#include "server/server.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string error;
  auto cli = herd::parse_cli_args(args, &error);
  if (!cli) {
    std::fprintf(stderr, "herd: %s\n%s", error.c_str(), herd::kUsage);
    return 2;
  }
  switch (cli->mode) {
    case herd::CliArgs::Mode::help:
      std::fputs(herd::kUsage, stdout);
      return 0;
    case herd::CliArgs::Mode::version:
      std::printf("herd %s\n", HERD_VERSION);
      return 0;
    default:
      break;
  }
  auto cfg = herd::load_config(cli->config, &error);
  if (!cfg) {
    std::fprintf(stderr, "herd: %s\n", error.c_str());
    return 1;
  }
  if (cli->mode == herd::CliArgs::Mode::check) {
    std::printf("%s: OK (%zu servers)\n", cli->config.c_str(), cfg->servers.size());
    return 0;
  }
  const herd::ServerConfig* self = cfg->find(cli->name);
  if (!self) {
    std::fprintf(stderr, "herd: %s: no [[server]] named \"%s\"\n", cli->config.c_str(),
                 cli->name.c_str());
    return 1;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "herd: curl_global_init failed\n");
    return 1;
  }
  try {
    int rc = herd::run_server(*cfg, *self);
    curl_global_cleanup();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herd: fatal: %s\n", e.what());
    return 1;
  }
}
