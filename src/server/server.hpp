#pragma once
#include "core/config.hpp"

namespace herd {

// Runs the server named `name` of cfg until SIGINT or SIGTERM. Returns the process exit
// code: 0 after a clean stop, 1 if the server could not start.
int run_server(const HerdConfig& cfg, const ServerConfig& self);

}  // namespace herd
