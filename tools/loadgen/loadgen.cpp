// loadgen: the load generator for herd, and for Redis to compare against.
//
// Closed loop (default): each connection keeps --pipeline requests outstanding and sends
// a new one whenever a reply completes. Open loop (--rate R): requests leave on a fixed
// schedule whatever the replies do, and latency is measured from each request's
// intended send time, so a stalled server cannot hide its stall (no coordinated
// omission, as wrk2 does it). Latency goes into a log-linear histogram.
//
// Scenarios: iamat (distinct clients, random valid locations), whatsat, mixed (9:1),
// propagation (an IAMAT at --port, then WHATSAT polls at --observe-port until the same
// AT line is visible there; latency is from the IAMAT reply to the first poll that sees
// it, so it includes at most one poll round trip of granularity). --target redis sends
// the IAMAT scenario as inline GEOADD commands over the same client code.
//
// --tls CA.pem speaks TLS (a server's tls_port, PROTOCOL.md section 11), verifying the
// server's certificate against the CA; requests start once each handshake is done.
//
// Every run is bounded (--duration at most 600 s, or --requests) and talks to loopback
// addresses only.
#include <openssl/ssl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/tls_channel.hpp"
#include "histogram.hpp"

namespace {

enum class Scenario { iamat, whatsat, mixed, propagation };
enum class Target { herd, redis };

struct Options {
  std::string host = "127.0.0.1";
  int port = 12100;
  int observe_port = 0;
  int connections = 50;
  int pipeline = 1;
  double duration = 10;
  std::uint64_t requests = 0;  // 0: until --duration
  double rate = 0;             // requests/s in total; 0: closed loop
  int threads = 1;
  int clients = 1000000;
  int whatsat_clients = 1000;
  bool sequential = false;
  Scenario scenario = Scenario::iamat;
  Target target = Target::herd;
  double radius = 10;
  int bound = 5;
  std::vector<int> server_pids;
  bool json = false;
  bool progress = true;
  std::string tls_ca;  // --tls: the CA the server's certificate must chain to
};

SSL_CTX* g_tls = nullptr;

Options opt;
using Clock = std::chrono::steady_clock;
std::atomic<std::uint64_t> g_replies{0}, g_errors{0}, g_sent{0}, g_next_id{0};
std::atomic<bool> g_stop{false};

struct Thread;

struct Pending {
  bool whatsat;
  Clock::time_point t0;  // intended (open loop) or actual (closed loop) send time
};

struct Conn {
  Thread* t = nullptr;
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  std::deque<Pending> in_flight;
  std::string in;
  bool closed = false;
  bool connected = false;
  Clock::time_point next_due;  // open loop
  // propagation: a pair of connections, this one writes and `observer` polls.
  Conn* observer = nullptr;
  Conn* writer = nullptr;
  std::string expect;  // the AT line being waited for, with '\n'
  std::string probe_id;
  Clock::time_point probe_t0;
  std::unique_ptr<herd::TlsChannel> tls;
};

struct Thread {
  int index = 0;
  uv_loop_t loop{};
  uv_timer_t timer{};
  // Open loop: a timerfd fires every 100 us (uv timers have only millisecond
  // resolution), polled by the loop itself (no second thread competing for the cores),
  // and the loop sends every request that is due.
  uv_poll_t pace{};
  int pace_fd = -1;
  std::vector<Conn*> conns;
  LatencyHistogram hist;
  std::uint64_t replies = 0, errors = 0;
  std::mt19937_64 rng;
  Clock::time_point end;
  bool stopping = false;
  int open = 0;
  std::uint64_t probes = 0;
};

struct WriteReq {
  uv_write_t req;
  std::string buf;
};

void append_request(Thread& t, std::string& out, bool& whatsat) {
  whatsat =
      opt.scenario == Scenario::whatsat || (opt.scenario == Scenario::mixed && t.rng() % 10 == 0);
  const auto clients = static_cast<std::uint64_t>(opt.clients);
  const std::uint64_t id = opt.sequential ? g_next_id.fetch_add(1) % clients : t.rng() % clients;
  const double lat = -60 + static_cast<double>(t.rng() % 1300000) / 10000.0;
  const double lng = -180 + static_cast<double>(t.rng() % 3600000) / 10000.0;
  char buf[256];
  int n;
  if (opt.target == Target::redis) {
    n = std::snprintf(buf, sizeof buf, "GEOADD herd %.6f %.6f client%" PRIu64 "\r\n", lng, lat, id);
  } else if (whatsat) {
    n = std::snprintf(buf, sizeof buf, "WHATSAT client%" PRIu64 " %g %d\n",
                      id % static_cast<std::uint64_t>(opt.whatsat_clients), opt.radius, opt.bound);
  } else {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    n = std::snprintf(buf, sizeof buf,
                      "IAMAT client%" PRIu64 " %+.6f%+.6f %" PRId64 ".%09" PRId64 "\n", id, lat,
                      lng, static_cast<std::int64_t>(ns / 1000000000),
                      static_cast<std::int64_t>(ns % 1000000000));
  }
  out.append(buf, static_cast<std::size_t>(n));
}

void on_pace_closed(uv_handle_t* h) {
  auto* t = static_cast<Thread*>(h->data);
  close(t->pace_fd);
  t->pace_fd = -1;
}

void stop_pacer(Thread* t) {
  if (t->pace_fd < 0 || uv_is_closing(reinterpret_cast<uv_handle_t*>(&t->pace))) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&t->pace), on_pace_closed);
}

void on_close(uv_handle_t* h) {
  auto* c = static_cast<Conn*>(h->data);
  if (--c->t->open == 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->t->timer), nullptr);
    stop_pacer(c->t);
  }
}

void close_conn(Conn* c) {
  if (c->closed) return;
  c->closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_close);
}

void write_raw(Conn* c, std::string data) {
  if (c->closed || data.empty()) return;
  auto* w = new WriteReq;
  w->buf = std::move(data);
  w->req.data = c;
  uv_buf_t b = uv_buf_init(w->buf.data(), static_cast<unsigned>(w->buf.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1,
                    [](uv_write_t* req, int status) {
                      auto* ww = reinterpret_cast<WriteReq*>(req);
                      auto* cc = static_cast<Conn*>(req->data);
                      delete ww;
                      if (status != 0 && !cc->t->stopping) {
                        cc->t->errors++;
                        close_conn(cc);
                      }
                    });
  if (rc != 0) {
    delete w;
    c->t->errors++;
    close_conn(c);
  }
}

// Writes requests, through TLS when the connection has it.
void write_buf(Conn* c, std::string data) {
  if (!c->tls) {
    write_raw(c, std::move(data));
    return;
  }
  if (c->closed) return;
  if (!data.empty() && c->tls->write(data) != herd::TlsChannel::Status::ok) {
    std::fprintf(stderr, "loadgen: TLS: %s\n", c->tls->error().c_str());
    c->t->errors++;
    close_conn(c);
    return;
  }
  std::string out;
  c->tls->take_output(out);
  write_raw(c, std::move(out));
}

void start_requests(Conn* c);

bool budget_left(Thread& t) {
  if (t.stopping) return false;
  if (opt.requests == 0) return true;
  return g_sent.fetch_add(1) < opt.requests;
}

void send_closed_loop(Conn* c, int n) {
  Thread& t = *c->t;
  std::string out;
  const auto now = Clock::now();
  for (int i = 0; i < n && budget_left(t); ++i) {
    bool whatsat = false;
    append_request(t, out, whatsat);
    c->in_flight.push_back(Pending{whatsat, now});
  }
  write_buf(c, std::move(out));
}

// Propagation: start a probe (an IAMAT on the writer connection).
void start_probe(Conn* w) {
  Thread& t = *w->t;
  if (!budget_left(t)) return;
  char buf[160];
  w->probe_id = "prop-" + std::to_string(t.index) + "-" + std::to_string(t.probes++) + "-" +
                std::to_string(reinterpret_cast<std::uintptr_t>(w) % 100000);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::snprintf(buf, sizeof buf, "IAMAT %s +10.000000+10.000000 %" PRId64 ".%09" PRId64 "\n",
                w->probe_id.c_str(), static_cast<std::int64_t>(ns / 1000000000),
                static_cast<std::int64_t>(ns % 1000000000));
  w->in_flight.push_back(Pending{false, Clock::now()});
  write_buf(w, buf);
}

void poll_observer(Conn* o) {
  Conn* w = o->writer;
  o->in_flight.push_back(Pending{true, Clock::now()});
  write_buf(o, "WHATSAT " + w->probe_id + " 0.001 1\n");
}

// Consumes complete replies; returns how many completed. `first_lines` gets each
// reply's first line when the caller needs it (propagation).
int parse_replies(Conn* c, std::vector<std::string>* first_lines) {
  Thread& t = *c->t;
  int done = 0;
  std::size_t pos = 0;
  const auto now = Clock::now();
  while (!c->in_flight.empty()) {
    const Pending& p = c->in_flight.front();
    std::size_t nl = c->in.find('\n', pos);
    if (nl == std::string::npos) break;
    std::size_t end = nl + 1;
    const bool invalid = c->in.compare(pos, 2, "? ") == 0 || c->in.compare(pos, 1, "-") == 0;
    if (p.whatsat && !invalid) {
      std::size_t e = c->in.find("\n\n", nl);
      if (e == std::string::npos) break;
      end = e + 2;
    }
    if (first_lines) first_lines->emplace_back(c->in, pos, nl + 1 - pos);
    if (invalid && opt.scenario != Scenario::propagation) t.errors++;
    if (opt.scenario != Scenario::propagation) {
      t.hist.record(static_cast<std::uint64_t>(std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::microseconds>(now - p.t0).count())));
    }
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
      t.errors++;
    }
    close_conn(c);
    return;
  }
  if (c->tls) {
    const bool was = c->tls->established();
    if (c->tls->feed(buf->base, static_cast<std::size_t>(nread), c->in) ==
        herd::TlsChannel::Status::failed) {
      std::fprintf(stderr, "loadgen: TLS: %s\n", c->tls->error().c_str());
      t.errors++;
      close_conn(c);
      return;
    }
    write_buf(c, "");  // handshake messages
    if (!was && c->tls->established()) start_requests(c);
  } else {
    c->in.append(buf->base, static_cast<std::size_t>(nread));
  }
  if (opt.scenario == Scenario::propagation) {
    std::vector<std::string> lines;
    int done = parse_replies(c, &lines);
    for (int i = 0; i < done; ++i) {
      if (c->observer) {  // the writer: the IAMAT was accepted
        c->expect = lines[static_cast<std::size_t>(i)];
        c->probe_t0 = Clock::now();
        poll_observer(c->observer);
      } else if (lines[static_cast<std::size_t>(i)] == c->writer->expect) {
        Conn* w = c->writer;
        t.hist.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - w->probe_t0)
                .count()));
        t.replies++;
        g_replies++;
        if (!t.stopping) start_probe(w);
      } else if (!t.stopping) {
        poll_observer(c);  // not there yet
      }
    }
    return;
  }
  int done = parse_replies(c, nullptr);
  t.replies += static_cast<std::uint64_t>(done);
  g_replies += static_cast<std::uint64_t>(done);
  if (opt.requests && g_replies.load() >= opt.requests) t.stopping = true;
  if (t.stopping) {
    if (c->in_flight.empty()) close_conn(c);
    return;
  }
  if (opt.rate == 0) send_closed_loop(c, done);
}

void on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  if (status != 0) {
    std::fprintf(stderr, "loadgen: cannot connect: %s\n", uv_strerror(status));
    c->t->errors++;
    close_conn(c);
    return;
  }
  c->connected = true;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, std::size_t, uv_buf_t* b) {
        static thread_local char block[256 * 1024];
        b->base = block;
        b->len = sizeof block;
      },
      on_read);
  if (g_tls) {
    c->tls = std::make_unique<herd::TlsChannel>(g_tls, herd::TlsChannel::Role::client);
    c->tls->start();
    write_buf(c, "");  // the ClientHello; requests start once the handshake is done
    return;
  }
  start_requests(c);
}

bool ready(const Conn* c) {
  return c->connected && (!c->tls || c->tls->established());
}

void start_requests(Conn* c) {
  if (opt.scenario == Scenario::propagation) {
    if (c->observer && ready(c->observer)) start_probe(c);
    if (c->writer && ready(c->writer)) start_probe(c->writer);
  } else if (opt.rate == 0) {
    send_closed_loop(c, opt.pipeline);
  } else {
    c->next_due = Clock::now();
  }
}

void on_tick(uv_timer_t* h) {
  auto* t = static_cast<Thread*>(h->data);
  const auto now = Clock::now();
  if (now >= t->end || g_stop.load() || (opt.requests && g_replies.load() >= opt.requests))
    t->stopping = true;
  if (t->stopping) {
    // Closed loop: let replies in flight finish for a moment, then close.
    for (Conn* c : t->conns) {
      if (c->in_flight.empty() || now >= t->end + std::chrono::seconds(2)) close_conn(c);
    }
    return;
  }
}

void on_pace(uv_poll_t* h, int status, int) {
  auto* t = static_cast<Thread*>(h->data);
  std::uint64_t expirations;
  if (status < 0 || read(t->pace_fd, &expirations, sizeof expirations) < 0) {
    if (status < 0 || errno != EAGAIN) t->errors++;
    return;
  }
  const auto now = Clock::now();
  if (t->stopping) return;
  {
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(opt.connections) / opt.rate));
    for (Conn* c : t->conns) {
      if (!ready(c) || c->closed) continue;
      std::string out;
      while (c->next_due <= now && budget_left(*t)) {
        bool whatsat = false;
        append_request(*t, out, whatsat);
        c->in_flight.push_back(Pending{whatsat, c->next_due});
        c->next_due += interval;
      }
      write_buf(c, std::move(out));
    }
  }
}

void run_thread(Thread* t, const sockaddr_storage* addr, const sockaddr_storage* observe) {
  uv_loop_init(&t->loop);
  uv_timer_init(&t->loop, &t->timer);
  t->timer.data = t;
  uv_timer_start(&t->timer, on_tick, 1, 1);
  if (opt.rate > 0) {
    t->pace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    const itimerspec every{{0, 100'000}, {0, 100'000}};
    if (t->pace_fd < 0 || timerfd_settime(t->pace_fd, 0, &every, nullptr) != 0 ||
        uv_poll_init(&t->loop, &t->pace, t->pace_fd) != 0) {
      std::fprintf(stderr, "loadgen: no pacing timer: %s\n", std::strerror(errno));
      std::exit(1);
    }
    t->pace.data = t;
    if (uv_poll_start(&t->pace, UV_READABLE, on_pace) != 0) {
      std::fprintf(stderr, "loadgen: cannot poll the pacing timer\n");
      std::exit(1);
    }
  }
  for (Conn* c : t->conns) {
    c->t = t;
    uv_tcp_init(&t->loop, &c->tcp);
    c->tcp.data = c;
    c->connect_req.data = c;
    t->open++;
    const sockaddr_storage* to = c->writer ? observe : addr;
    if (uv_tcp_connect(&c->connect_req, &c->tcp, reinterpret_cast<const sockaddr*>(to),
                       on_connect) != 0) {
      t->errors++;
      close_conn(c);
    }
  }
  uv_run(&t->loop, UV_RUN_DEFAULT);
  uv_loop_close(&t->loop);
}

double cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream rest(s.substr(rp + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

[[noreturn]] void usage() {
  std::fputs(
      "usage: loadgen [-h 127.0.0.1] [-p PORT] [-c 50] [-P 1] [-n REQUESTS] [-d SECONDS] [-t "
      "THREADS]\n"
      "               [--rate R] [--scenario iamat|whatsat|mixed|propagation] [--target "
      "herd|redis]\n"
      "               [--observe-port PORT] [--clients 1000000] [--sequential] [--whatsat-clients "
      "1000]\n"
      "               [--radius 10] [--bound 5] [--server-pid PID]... [--tls CA.pem] [--json] "
      "[--quiet]\n"
      "Closed loop unless --rate. Runs stop after -d seconds (at most 600) or -n requests.\n"
      "WHATSAT asks about client0 .. client<whatsat-clients - 1>: load them first with\n"
      "  loadgen --scenario iamat --sequential --clients N -n N\n",
      stderr);
  std::exit(2);
}

bool loopback_addr(const std::string& host, int port, sockaddr_storage* out) {
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0)
    return host.rfind("127.", 0) == 0;
  return host == "::1" &&
         uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--sequential") {
      opt.sequential = true;
      continue;
    }
    if (a == "--json") {
      opt.json = true;
      continue;
    }
    if (a == "--quiet") {
      opt.progress = false;
      continue;
    }
    if (i + 1 >= argc) usage();
    std::string v = argv[++i];
    if (a == "-h" || a == "--host")
      opt.host = v;
    else if (a == "-p" || a == "--port")
      opt.port = std::atoi(v.c_str());
    else if (a == "--observe-port")
      opt.observe_port = std::atoi(v.c_str());
    else if (a == "-c" || a == "--connections")
      opt.connections = std::atoi(v.c_str());
    else if (a == "-P" || a == "--pipeline")
      opt.pipeline = std::atoi(v.c_str());
    else if (a == "-d" || a == "--duration")
      opt.duration = std::atof(v.c_str());
    else if (a == "-n" || a == "--requests")
      opt.requests = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "-t" || a == "--threads")
      opt.threads = std::atoi(v.c_str());
    else if (a == "--rate")
      opt.rate = std::atof(v.c_str());
    else if (a == "--clients")
      opt.clients = std::atoi(v.c_str());
    else if (a == "--whatsat-clients")
      opt.whatsat_clients = std::atoi(v.c_str());
    else if (a == "--radius")
      opt.radius = std::atof(v.c_str());
    else if (a == "--bound")
      opt.bound = std::atoi(v.c_str());
    else if (a == "--tls")
      opt.tls_ca = v;
    else if (a == "--server-pid")
      opt.server_pids.push_back(std::atoi(v.c_str()));
    else if (a == "--scenario") {
      if (v == "iamat")
        opt.scenario = Scenario::iamat;
      else if (v == "whatsat")
        opt.scenario = Scenario::whatsat;
      else if (v == "mixed")
        opt.scenario = Scenario::mixed;
      else if (v == "propagation")
        opt.scenario = Scenario::propagation;
      else
        usage();
    } else if (a == "--target") {
      if (v == "herd")
        opt.target = Target::herd;
      else if (v == "redis")
        opt.target = Target::redis;
      else
        usage();
    } else {
      usage();
    }
  }
  if (opt.connections < 1 || opt.pipeline < 1 || opt.threads < 1 || opt.clients < 1 ||
      opt.whatsat_clients < 1 || opt.duration <= 0 || opt.duration > 600 || opt.rate < 0) {
    usage();
  }
  if (opt.target == Target::redis && opt.scenario != Scenario::iamat) {
    std::fputs("loadgen: --target redis supports only the iamat scenario (as GEOADD)\n", stderr);
    return 2;
  }
  sockaddr_storage addr{}, observe{};
  if (!loopback_addr(opt.host, opt.port, &addr)) {
    std::fprintf(stderr, "loadgen: refusing %s: only loopback addresses\n", opt.host.c_str());
    return 2;
  }
  if (opt.scenario == Scenario::propagation) {
    if (opt.observe_port == 0 || !loopback_addr(opt.host, opt.observe_port, &observe)) usage();
  }
  if (!opt.tls_ca.empty()) {
    g_tls = SSL_CTX_new(TLS_method());
    SSL_CTX_set_verify(g_tls, SSL_VERIFY_PEER, nullptr);
    if (!g_tls || SSL_CTX_load_verify_locations(g_tls, opt.tls_ca.c_str(), nullptr) != 1) {
      std::fprintf(stderr, "loadgen: --tls: cannot load the CA %s\n", opt.tls_ca.c_str());
      return 2;
    }
  }
  std::vector<double> cpu0;
  for (int pid : opt.server_pids) cpu0.push_back(cpu_seconds(pid));

  std::vector<Thread> threads(static_cast<std::size_t>(opt.threads));
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(opt.duration));
  std::vector<std::thread> runners;
  for (int k = 0; k < opt.threads; ++k) {
    Thread& t = threads[static_cast<std::size_t>(k)];
    t.index = k;
    t.rng.seed(static_cast<std::uint64_t>(k) * 7919 + 17);
    t.end = end;
    for (int c = k; c < opt.connections; c += opt.threads) {
      auto* conn = new Conn;
      t.conns.push_back(conn);
      if (opt.scenario == Scenario::propagation) {
        auto* obs = new Conn;
        conn->observer = obs;
        obs->writer = conn;
        t.conns.push_back(obs);
      }
    }
    runners.emplace_back(run_thread, &t, &addr, &observe);
  }
  std::thread progress([&] {
    std::uint64_t last = 0;
    auto t_last = Clock::now();
    while (!g_stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      auto now = Clock::now();
      if (now - t_last < std::chrono::seconds(1)) continue;
      std::uint64_t r = g_replies.load();
      if (opt.progress) {
        std::fprintf(
            stderr, "\r[%5.1f s] %" PRIu64 " replies, %.0f/s   ",
            std::chrono::duration<double>(now - start).count(), r,
            static_cast<double>(r - last) / std::chrono::duration<double>(now - t_last).count());
      }
      last = r;
      t_last = now;
    }
  });
  for (auto& r : runners) r.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  g_stop = true;
  progress.join();
  if (opt.progress) std::fputs("\n", stderr);
  double server_cpu = 0;
  for (std::size_t i = 0; i < opt.server_pids.size(); ++i)
    server_cpu += cpu_seconds(opt.server_pids[i]) - cpu0[i];

  LatencyHistogram all;
  std::uint64_t replies = 0, errors = 0;
  for (auto& t : threads) {
    all.merge(t.hist);
    replies += t.replies;
    errors += t.errors;
    for (Conn* c : t.conns) delete c;
  }
  const char* scen[] = {"iamat", "whatsat", "mixed", "propagation"};
  const double rate = static_cast<double>(replies) / secs;
  if (opt.json) {
    std::printf(
        "{\"scenario\": \"%s\", \"target\": \"%s\", \"connections\": %d, \"pipeline\": %d, "
        "\"rate\": %.0f, "
        "\"seconds\": %.3f, \"replies\": %" PRIu64 ", \"throughput\": %.0f, \"errors\": %" PRIu64
        ", \"latency_us\": {\"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64
        ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}, \"server_cpu_s\": %.2f}\n",
        scen[static_cast<int>(opt.scenario)], opt.target == Target::redis ? "redis" : "herd",
        opt.connections, opt.pipeline, opt.rate, secs, replies, rate, errors, all.percentile(0.5),
        all.percentile(0.9), all.percentile(0.99), all.percentile(0.999), all.max(), server_cpu);
  } else {
    std::printf("%s %s: %" PRIu64 " replies in %.2f s = %.0f/s, errors %" PRIu64 "\n",
                opt.target == Target::redis ? "redis" : "herd",
                scen[static_cast<int>(opt.scenario)], replies, secs, rate, errors);
    std::printf("  latency us: p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64
                "  max %" PRIu64 "\n",
                all.percentile(0.5), all.percentile(0.9), all.percentile(0.99),
                all.percentile(0.999), all.max());
    if (!opt.server_pids.empty()) {
      std::printf("  server CPU %.2f s (%.0f replies per CPU second)\n", server_cpu,
                  server_cpu > 0 ? static_cast<double>(replies) / server_cpu : 0.0);
    }
  }
  return errors ? 1 : 0;
}
