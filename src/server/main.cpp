// herd: one server of a proxy server herd. See PROTOCOL.md section 9.
#include <curl/curl.h>

#include <arpa/inet.h>
#include <execinfo.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/cli_args.hpp"
#include "core/config.hpp"
#include "herd_build_config.hpp"
#include "server/listener.hpp"
#include "server/server.hpp"
#include "server/tls_context.hpp"

namespace herd {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
void install_crash_report() {}  // the sanitizers report crashes themselves
#else
// A fatal signal writes the signal and a backtrace to stderr (addresses resolvable with
// addr2line), then the default action runs (a core dump where enabled). Only
// async-signal-safe calls: backtrace() was called once before, so it does not allocate.
void on_fatal_signal(int sig) {
  char head[64];
  const int n = std::snprintf(head, sizeof head, "herd: fatal signal %d; backtrace:\n", sig);
  if (n > 0) (void)!write(STDERR_FILENO, head, static_cast<std::size_t>(n));
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  raise(sig);  // SA_RESETHAND: the default action now
}

void install_crash_report() {
  void* warm[1];
  backtrace(warm, 1);  // loads libgcc's unwinder now, not in the handler
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}
#endif

// GET /healthz from an admin listener at HOST:PORT (an IP literal); 0 if it answers 200.
int health_probe(const std::string& target) {
  const auto colon = target.rfind(':');
  std::string host = target.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const int port = colon == std::string::npos ? 0 : std::atoi(target.c_str() + colon + 1);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (port <= 0 || port > 65535 ||
      !make_sockaddr(host, static_cast<std::uint16_t>(port), &ss, &len)) {
    std::fprintf(stderr, "herd: --health needs IP:PORT, not %s\n", target.c_str());
    return 2;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::fprintf(stderr, "herd: unhealthy: cannot connect to %s\n", target.c_str());
    if (fd >= 0) close(fd);
    return 1;
  }
  const char req[] = "GET /healthz HTTP/1.0\r\n\r\n";
  std::string answer;
  char buf[512];
  if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof req - 1)) {
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
      answer.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  const bool ok = answer.rfind("HTTP/1.1 200 ", 0) == 0;
  const auto body = answer.find("\r\n\r\n");
  std::fprintf(ok ? stdout : stderr, "%s%s", ok ? "" : "herd: unhealthy: ",
               body == std::string::npos ? "no answer\n" : answer.c_str() + body + 4);
  return ok ? 0 : 1;
}

}  // namespace herd

int main(int argc, char** argv) {
  herd::install_crash_report();
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
    case herd::CliArgs::Mode::health:
      return herd::health_probe(cli->health);
    default:
      break;
  }
  auto cfg = herd::load_config(cli->config, &error);
  if (!cfg) {
    std::fprintf(stderr, "herd: %s\n", error.c_str());
    return 1;
  }
  if (cli->mode == herd::CliArgs::Mode::check) {
    if (!cli->name.empty() && !cfg->find(cli->name)) {
      std::fprintf(stderr, "herd: %s: no [[server]] named \"%s\"\n", cli->config.c_str(),
                   cli->name.c_str());
      return 1;
    }
    // With [tls], each server's files (or only NAME's: a host holds its own key only).
    std::vector<std::string> problems;
    for (const auto& s : cfg->servers) {
      if (!cli->name.empty() && s.name != cli->name) continue;
      for (auto& p : herd::check_tls_files(*cfg, s)) {
        if (std::find(problems.begin(), problems.end(), p) != problems.end()) continue;
        std::fprintf(stderr, "herd: %s\n", p.c_str());
        problems.push_back(std::move(p));
      }
    }
    if (!problems.empty()) {
      std::fprintf(stderr, "herd: %s: %zu TLS problem%s\n", cli->config.c_str(), problems.size(),
                   problems.size() == 1 ? "" : "s");
      return 1;
    }
    std::printf("%s: OK (%zu servers%s)\n", cli->config.c_str(), cfg->servers.size(),
                cfg->tls.enabled ? ", TLS files valid" : "");
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
