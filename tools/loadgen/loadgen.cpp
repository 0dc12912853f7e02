// loadgen: a closed-loop load generator for herd (and for Redis, to compare).
//
// Each connection keeps `pipeline` requests outstanding and sends a new one whenever a
// reply completes, for `duration` seconds or until `requests` replies. One libuv loop
// per thread. Talks only to loopback addresses.
//
//   loadgen --port 12100 --connections 50 --pipeline 16 --duration 10 --scenario iamat
//   scenarios: iamat | whatsat | mixed (9 IAMAT : 1 WHATSAT) | redis-geoadd
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class Scenario { iamat, whatsat, mixed, redis_geoadd };

struct Options {
  std::string host = "127.0.0.1";
  int port = 12100;
  int connections = 50;
  int pipeline = 1;
  double duration = 10;
  std::uint64_t requests = 0;  // 0 = no limit
  int threads = 1;
  int clients = 100000;  // distinct client ids
  Scenario scenario = Scenario::iamat;
  double radius = 10;
  int bound = 5;
  int whatsat_clients = 1000;  // WHATSAT asks about client0 .. client<N-1>
  bool sequential = false;     // client ids 0, 1, 2, ... in order across all connections
};

std::atomic<std::uint64_t> g_next_id{0};

using Clock = std::chrono::steady_clock;

struct Stats {
  std::uint64_t replies = 0, errors = 0, bytes = 0;
  std::vector<std::uint32_t> latency_us;
};

struct Thread;

// One connection: requests in flight in FIFO order, replies parsed by kind.
struct Conn {
  Thread* t = nullptr;
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  std::deque<std::pair<bool, Clock::time_point>> in_flight;  // (is_whatsat, sent at)
  std::string in;                                            // unparsed reply bytes
  std::size_t scan = 0;
  bool closed = false;
};

struct WriteReq {
  uv_write_t req;
  std::string buf;
};

struct Thread {
  Options opt;
  uv_loop_t loop{};
  uv_timer_t timer{};
  std::vector<Conn*> conns;
  Stats stats;
  std::mt19937_64 rng;
  std::atomic<std::uint64_t>* total_replies = nullptr;
  Clock::time_point end;
  bool stopping = false;
  int open = 0;
};

std::string make_request(Thread& t, bool& whatsat) {
  const auto& o = t.opt;
  whatsat = o.scenario == Scenario::whatsat || (o.scenario == Scenario::mixed && t.rng() % 10 == 0);
  char buf[256];
  unsigned id =
      o.sequential
          ? static_cast<unsigned>(g_next_id.fetch_add(1) % static_cast<unsigned>(o.clients))
          : static_cast<unsigned>(t.rng() % static_cast<unsigned>(o.clients));
  double lat = -60 + static_cast<double>(t.rng() % 1300000) / 10000.0;
  double lng = -180 + static_cast<double>(t.rng() % 3600000) / 10000.0;
  int n;
  if (o.scenario == Scenario::redis_geoadd) {
    n = std::snprintf(buf, sizeof buf, "GEOADD herd %.6f %.6f client%u\r\n", lng, lat, id);
  } else if (whatsat) {
    n = std::snprintf(buf, sizeof buf, "WHATSAT client%u %g %d\n",
                      id % static_cast<unsigned>(o.whatsat_clients), o.radius, o.bound);
  } else {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
    n = std::snprintf(buf, sizeof buf, "IAMAT client%u %+.6f%+.6f %" PRId64 ".%09" PRId64 "\n", id,
                      lat, lng, static_cast<std::int64_t>(ns / 1000000000),
                      static_cast<std::int64_t>(ns % 1000000000));
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

void on_close(uv_handle_t* h) {
  auto* c = static_cast<Conn*>(h->data);
  c->t->open--;
  if (c->t->open == 0) uv_close(reinterpret_cast<uv_handle_t*>(&c->t->timer), nullptr);
}

void close_conn(Conn* c) {
  if (c->closed) return;
  c->closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_close);
}

void on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  auto* c = static_cast<Conn*>(req->data);
  delete w;
  if (status != 0) {
    c->t->stats.errors++;
    close_conn(c);
  }
}

void send_requests(Conn* c, int n) {
  Thread& t = *c->t;
  if (t.stopping || c->closed || n <= 0) return;
  auto* w = new WriteReq;
  auto now = Clock::now();
  for (int i = 0; i < n; ++i) {
    bool whatsat = false;
    w->buf += make_request(t, whatsat);
    c->in_flight.emplace_back(whatsat, now);
  }
  w->req.data = c;
  uv_buf_t b = uv_buf_init(w->buf.data(), static_cast<unsigned>(w->buf.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1, on_write) != 0) {
    delete w;
    t.stats.errors++;
    close_conn(c);
  }
}

void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
  static thread_local char block[256 * 1024];
  buf->base = block;
  buf->len = sizeof block;
}

// Consumes complete replies from c->in; returns how many completed.
int parse_replies(Conn* c) {
  Thread& t = *c->t;
  int done = 0;
  std::size_t pos = 0;
  while (!c->in_flight.empty()) {
    bool whatsat = c->in_flight.front().first;
    std::size_t nl = c->in.find('\n', pos);
    if (nl == std::string::npos) break;
    std::size_t end = nl + 1;
    bool invalid = c->in.compare(pos, 2, "? ") == 0 || c->in.compare(pos, 1, "-") == 0;
    if (whatsat && !invalid) {
      std::size_t e = c->in.find("\n\n", nl + 1);
      if (e == std::string::npos) break;
      end = e + 2;
    }
    if (invalid && t.opt.scenario != Scenario::whatsat) t.stats.errors++;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                                    c->in_flight.front().second);
    t.stats.latency_us.push_back(
        static_cast<std::uint32_t>(std::min<long long>(us.count(), UINT32_MAX)));
    c->in_flight.pop_front();
    pos = end;
    ++done;
  }
  c->in.erase(0, pos);
  return done;
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  Thread& t = *c->t;
  if (nread < 0) {
    if (!t.stopping) {
      std::fprintf(stderr, "loadgen: connection lost: %s\n", uv_strerror(static_cast<int>(nread)));
      t.stats.errors++;
    }
    close_conn(c);
    return;
  }
  t.stats.bytes += static_cast<std::uint64_t>(nread);
  c->in.append(buf->base, static_cast<std::size_t>(nread));
  int done = parse_replies(c);
  t.stats.replies += static_cast<std::uint64_t>(done);
  std::uint64_t total = t.total_replies->fetch_add(static_cast<std::uint64_t>(done)) +
                        static_cast<std::uint64_t>(done);
  if (t.opt.requests && total >= t.opt.requests) t.stopping = true;
  if (t.stopping) {
    if (c->in_flight.empty()) close_conn(c);
    return;
  }
  send_requests(c, done);
}

void on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  if (status != 0) {
    std::fprintf(stderr, "loadgen: connect failed: %s\n", uv_strerror(status));
    c->t->stats.errors++;
    close_conn(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  send_requests(c, c->t->opt.pipeline);
}

void on_timer(uv_timer_t* h) {
  auto* t = static_cast<Thread*>(h->data);
  if (Clock::now() >= t->end || t->stopping) {
    t->stopping = true;
    for (Conn* c : t->conns) close_conn(c);
  }
}

void run_thread(Thread* t, const sockaddr_storage* addr) {
  uv_loop_init(&t->loop);
  uv_timer_init(&t->loop, &t->timer);
  t->timer.data = t;
  uv_timer_start(&t->timer, on_timer, 10, 10);
  for (Conn* c : t->conns) {
    c->t = t;
    uv_tcp_init(&t->loop, &c->tcp);
    c->tcp.data = c;
    c->connect_req.data = c;
    t->open++;
    if (uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<const sockaddr*>(addr),
                       on_connect) != 0) {
      t->stats.errors++;
      close_conn(c);
    }
  }
  uv_run(&t->loop, UV_RUN_DEFAULT);
  uv_loop_close(&t->loop);
}

Scenario parse_scenario(const std::string& s) {
  if (s == "iamat") return Scenario::iamat;
  if (s == "whatsat") return Scenario::whatsat;
  if (s == "mixed") return Scenario::mixed;
  if (s == "redis-geoadd") return Scenario::redis_geoadd;
  std::fprintf(stderr, "loadgen: unknown scenario %s\n", s.c_str());
  std::exit(2);
}

[[noreturn]] void usage() {
  std::fputs(
      "usage: loadgen [--host 127.0.0.1] --port N [--connections 50] [--pipeline 1] [--duration "
      "10]\n"
      "               [--requests 0] [--threads 1] [--clients 100000] [--radius 10] [--bound 5]\n"
      "               [--scenario iamat|whatsat|mixed|redis-geoadd] [--sequential]\n"
      "               [--whatsat-clients 1000]\n"
      "WHATSAT scenarios ask about client0 .. client<whatsat-clients - 1>: run an iamat pass\n"
      "first (--scenario iamat --sequential --requests N).\n",
      stderr);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--sequential") {
      o.sequential = true;
      continue;
    }
    if (i + 1 >= argc) usage();
    std::string v = argv[++i];
    if (a == "--host")
      o.host = v;
    else if (a == "--port")
      o.port = std::atoi(v.c_str());
    else if (a == "--connections")
      o.connections = std::atoi(v.c_str());
    else if (a == "--pipeline")
      o.pipeline = std::atoi(v.c_str());
    else if (a == "--duration")
      o.duration = std::atof(v.c_str());
    else if (a == "--requests")
      o.requests = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--threads")
      o.threads = std::atoi(v.c_str());
    else if (a == "--clients")
      o.clients = std::atoi(v.c_str());
    else if (a == "--radius")
      o.radius = std::atof(v.c_str());
    else if (a == "--bound")
      o.bound = std::atoi(v.c_str());
    else if (a == "--whatsat-clients")
      o.whatsat_clients = std::atoi(v.c_str());
    else if (a == "--scenario")
      o.scenario = parse_scenario(v);
    else
      usage();
  }
  if (o.whatsat_clients < 1 || o.connections < 1 || o.pipeline < 1 || o.threads < 1 ||
      o.clients < 1 || o.duration <= 0 || o.duration > 600) {
    usage();
  }
  sockaddr_storage addr{};
  if (uv_ip4_addr(o.host.c_str(), o.port, reinterpret_cast<sockaddr_in*>(&addr)) == 0) {
    if (o.host.rfind("127.", 0) != 0) {
      std::fprintf(stderr, "loadgen: refusing non-loopback address %s\n", o.host.c_str());
      return 2;
    }
  } else if (o.host == "::1") {
    uv_ip6_addr(o.host.c_str(), o.port, reinterpret_cast<sockaddr_in6*>(&addr));
  } else {
    std::fprintf(stderr, "loadgen: --host must be a loopback address\n");
    return 2;
  }
  std::atomic<std::uint64_t> total{0};
  std::vector<Thread> threads(static_cast<std::size_t>(o.threads));
  auto start = Clock::now();
  auto end = start +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  std::vector<std::thread> runners;
  for (int k = 0; k < o.threads; ++k) {
    Thread& t = threads[static_cast<std::size_t>(k)];
    t.opt = o;
    t.rng.seed(static_cast<std::uint64_t>(k) * 7919 + 17);
    t.total_replies = &total;
    t.end = end;
    for (int c = k; c < o.connections; c += o.threads) t.conns.push_back(new Conn);
    runners.emplace_back(run_thread, &t, &addr);
  }
  for (auto& r : runners) r.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  Stats all;
  for (auto& t : threads) {
    all.replies += t.stats.replies;
    all.errors += t.stats.errors;
    all.bytes += t.stats.bytes;
    all.latency_us.insert(all.latency_us.end(), t.stats.latency_us.begin(),
                          t.stats.latency_us.end());
    for (Conn* c : t.conns) delete c;
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  auto pct = [&](double p) -> unsigned {
    if (all.latency_us.empty()) return 0;
    return all.latency_us[std::min(all.latency_us.size() - 1,
                                   static_cast<std::size_t>(p * all.latency_us.size()))];
  };
  std::printf("replies %" PRIu64 " in %.2f s = %.0f replies/s; %.1f MB/s received; errors %" PRIu64
              "; latency us p50 %u p99 %u p99.9 %u max %u\n",
              all.replies, secs, static_cast<double>(all.replies) / secs,
              static_cast<double>(all.bytes) / secs / 1e6, all.errors, pct(0.5), pct(0.99),
              pct(0.999), all.latency_us.empty() ? 0u : all.latency_us.back());
  return all.errors ? 1 : 0;
}
