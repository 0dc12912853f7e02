#include "server/server.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "herd_build_config.hpp"
#include "server/admin.hpp"
#include "server/context.hpp"
#include "server/links.hpp"
#include "server/listener.hpp"
#include "server/logging.hpp"
#include "server/nats_backbone.hpp"
#include "server/offline_provider.hpp"
#include "server/tls_context.hpp"
#include "server/upstream_provider.hpp"
#include "server/worker.hpp"

namespace herd {
namespace {

std::unique_ptr<OfflinePlaces> load_offline(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read offline places data " + path;
    return nullptr;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string why;
  auto places = OfflinePlaces::parse(ss.str(), &why);
  if (!places) {
    *error = path + ": " + why;
    return nullptr;
  }
  return std::make_unique<OfflinePlaces>(std::move(*places));
}

// Raises the soft descriptor limit to the hard one (PROTOCOL.md section 10); says what
// the limit is, for the start-up log.
std::string raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return "descriptor limit unknown";
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return "descriptor limit " + std::to_string(rl.rlim_cur);
}

}  // namespace

int run_server(const HerdConfig& cfg, const ServerConfig& self) {
  // SIGINT/SIGTERM/SIGHUP are taken by sigwait below; every thread inherits this mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const std::string nofile = raise_nofile_limit();

  std::string error;
  if (!open_log(cfg.log_dir, self.name, cfg.log_max_bytes, cfg.log_keep, &error)) {
    std::fprintf(stderr, "herd: %s\n", error.c_str());
    return 1;
  }
  const unsigned workers =
      cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  log().info("herd {} starting server {} with {} workers on {} port {}, config {}", HERD_VERSION,
             self.name, workers, self.host, self.port, cfg.path);
  log().info("limits: {} client connections, lines of {} bytes, idle time-out {}, {}",
             cfg.max_connections, cfg.max_line_bytes,
             cfg.idle_timeout_s ? std::to_string(cfg.idle_timeout_s) + " s" : "off", nofile);

  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "herd: %s\n", what.c_str());
    log().error("{}", what);
    close_log();
    return 1;
  };

  ServerContext ctx;
  ctx.config = &cfg;
  ctx.self = &self;
  if (const char* s = std::getenv(cfg.secret_env.c_str()); s && *s) ctx.secret = s;
  if (ctx.secret.empty()) {
    log().warn(
        "no link secret (${} unset or empty): links are not authenticated (development mode)",
        cfg.secret_env);
  }
  Worker::ProviderFactory make_provider;
  if (cfg.places.provider == PlacesProviderKind::offline) {
    const std::string data = cfg.places.data.empty() ? HERD_DEFAULT_PLACES_DATA : cfg.places.data;
    ctx.offline = load_offline(data, &error);
    if (!ctx.offline) return fail(error);
    log().info("places provider offline: {} places from {}", ctx.offline->size(), data);
    make_provider = [&ctx](uv_loop_t*, std::string*) -> std::unique_ptr<PlacesProvider> {
      return std::make_unique<OfflineProvider>(*ctx.offline);
    };
  } else {
    // A provider without its key could only ever answer REQUEST_DENIED: refuse.
    const bool keyless = cfg.places.provider == PlacesProviderKind::wikipedia;
    const char* key = keyless ? "" : std::getenv(cfg.places.key_env.c_str());
    if (!keyless && (!key || !*key)) {
      return fail("places provider \"" + cfg.places.provider_name + "\" needs " +
                  (cfg.places.provider == PlacesProviderKind::x ? "a bearer token" : "an API key") +
                  " in $" + cfg.places.key_env + " (" + cfg.path + ": places.key_env)");
    }
    log().info("places provider {}: endpoint {}, time-out {} ms, {}", cfg.places.provider_name,
               cfg.places.endpoint.empty() ? "the provider's own" : cfg.places.endpoint,
               cfg.places.timeout_ms, keyless ? "no key" : "key from $" + cfg.places.key_env);
    make_provider = [&cfg, k = std::string(key)](
                        uv_loop_t* loop, std::string* why) -> std::unique_ptr<PlacesProvider> {
      auto p = std::make_unique<UpstreamProvider>(loop, cfg.places, k);
      if (!p->init(why)) return nullptr;
      return p;
    };
  }

  if (!port_is_free(self.host, self.port, &error))
    return fail(error + " (is another server running there?)");
  if (self.tls_port != 0 && !port_is_free(self.host, self.tls_port, &error))
    return fail(error + " (tls_port; is another server running there?)");

  // TLS (PROTOCOL.md section 11): the contexts are loaded here and on SIGHUP, never on a loop.
  TlsHolder tls;
  if (cfg.tls.enabled) {
    auto contexts = load_tls(cfg, self, &error);
    if (!contexts) return fail("TLS: " + error);
    log().info("TLS: links use mutual TLS 1.3; {}{}", contexts->summary,
               self.tls_port ? "; client TLS port " + std::to_string(self.tls_port) : "");
    tls.set(std::move(contexts));
    ctx.tls = &tls;
  }

  // Links live on worker 0's loop; they exist before any worker can accept a hello.
  ctx.metrics = std::make_unique<Metrics>(workers);
  std::unique_ptr<Links> links;
  std::unique_ptr<NatsBackbone> nats;
  if (cfg.backbone.kind == BackboneKind::nats) {
    // Records travel through the bucket; neighbours are ignored (PROTOCOL.md section 12).
    log().info("backbone: NATS bucket {} ({} replicas) at {} server(s){}", cfg.backbone.bucket,
               cfg.backbone.replicas, cfg.backbone.servers.size(),
               self.neighbors.empty() ? "" : "; neighbours in the config are ignored");
    nats = std::make_unique<NatsBackbone>(ctx);
    ctx.nats = nats.get();
    nats->start();
  } else if (!self.neighbors.empty()) {
    links = std::make_unique<Links>(ctx);
    ctx.links = links.get();
  }
  std::unique_ptr<Admin> admin;
  if (self.admin_port != 0) {
    admin = std::make_unique<Admin>(ctx);
    if (!admin->bind(&error)) return fail("admin listener: " + error);
  }
  // Every worker's socket joins the SO_REUSEPORT group before any accepts, so connections
  // are spread over all workers from the first one on.
  std::vector<int> listen_fds, tls_fds;
  auto close_all = [&] {
    for (int f : listen_fds) close(f);
    for (int f : tls_fds) close(f);
  };
  for (unsigned i = 0; i < workers; ++i) {
    int fd = open_listen_socket(self.host, self.port, true, &error);
    if (fd < 0) {
      close_all();
      return fail(error);
    }
    listen_fds.push_back(fd);
    if (self.tls_port == 0) continue;
    fd = open_listen_socket(self.host, self.tls_port, true, &error);
    if (fd < 0) {
      close_all();
      return fail("tls_port: " + error);
    }
    tls_fds.push_back(fd);
  }
  std::vector<std::unique_ptr<Worker>> pool;
  for (unsigned i = 0; i < workers; ++i) {
    const int fd = listen_fds[i];
    const int tls_fd = self.tls_port ? tls_fds[i] : -1;
    auto w = std::make_unique<Worker>(ctx, i);
    Links* l = i == 0 ? links.get() : nullptr;
    // At the signal the links stop dialling and handshaking; they flush and close only
    // once the other workers have stopped (release below).
    if (l) w->add_stop_hook([l](std::function<void()> done) { l->stop(std::move(done)); });
    Admin* a = i == 0 ? admin.get() : nullptr;
    if (a) w->add_stop_hook([a](std::function<void()> done) { a->stop(std::move(done)); });
    if (!w->start(fd, tls_fd, make_provider, &error)) return fail(error);
    if (a) {
      w->post([a, loop = w->loop()] {
        std::string why;
        if (!a->start(loop, &why)) log().error("admin listener could not start: {}", why);
      });
    }
    if (l) {
      w->post([l, loop = w->loop()] {
        std::string why;
        if (!l->start(loop, &why)) log().error("links could not start: {}", why);
      });
    }
    pool.push_back(std::move(w));
  }
  log().info("server {} listening on {} port {}{}", self.name, self.host, self.port,
             self.tls_port ? " and TLS port " + std::to_string(self.tls_port) : "");

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    log().info("SIGHUP received: reopening the log file{}",
               cfg.tls.enabled ? " and reloading the TLS files" : "");
    reopen_log();
    if (cfg.tls.enabled) {
      // New connections use the new files; established ones keep theirs.
      if (auto contexts = load_tls(cfg, self, &error)) {
        log().info("TLS reloaded: {}", contexts->summary);
        tls.set(std::move(contexts));
      } else {
        log().error("TLS reload failed, keeping the files loaded before: {}", error);
      }
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  log().info("signal {} received: stopping (everything closes within 5 s)",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
  // Every listener closes at once; sessions get 3 s to finish what they owe. Worker 0
  // owns the links and takes the floods of the others, so its links close last.
  for (auto& w : pool) w->request_stop();
  const auto deadline = t0 + std::chrono::milliseconds(4500);
  bool clean = true;
  for (std::size_t i = pool.size(); i-- > 1;) clean = pool[i]->join_until(deadline) && clean;
  if (Links* l = links.get()) pool[0]->post([l] { l->release(); });
  clean = pool[0]->join_until(deadline) && clean;
  if (nats) {
    // Every loop has stopped and posted what it stored: publish it while there is time.
    // At most 1 s, and closing NATS (up to another 1.2 s) still ends within the 5 s.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::milliseconds(1500) - std::chrono::steady_clock::now());
    nats->stop(std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(1000)));
  }
  if (!clean) {
    // A last resort: a loop did not finish in time (its threads still run, so the log is
    // flushed, not closed).
    log().error("server {} did not stop within 4.5 s; exiting anyway", self.name);
    flush_log();
    std::fflush(nullptr);
    std::_Exit(0);
  }
  log().info(
      "server {} stopped in {} ms; {} clients in the table", self.name,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count(),
      ctx.table.size());
  close_log();
  return 0;
}

}  // namespace herd
