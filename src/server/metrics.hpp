#pragma once
// The server's counters, shared by every worker (relaxed atomics: each is a statistic,
// read whole by the admin listener; no ordering between them is promised).
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herd {

struct Metrics {
  static constexpr std::array<std::string_view, 7> kStatuses = {"OK",
                                                                "ZERO_RESULTS",
                                                                "REQUEST_DENIED",
                                                                "OVER_QUERY_LIMIT",
                                                                "INVALID_REQUEST",
                                                                "UNKNOWN_ERROR",
                                                                "other"};
  static constexpr std::array<double, 11> kLookupBoundsSeconds = {
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

  std::atomic<std::uint64_t> connections_opened{0};
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_refused{0};  // over max_connections
  std::atomic<std::uint64_t> connections_idle_closed{0};
  std::atomic<std::uint64_t> lines_iamat{0}, lines_whatsat{0}, lines_invalid{0}, lines_blank{0};
  std::atomic<std::uint64_t> lines_too_long{0};
  std::atomic<std::uint64_t> answered_invalid{0};  // lines answered "? ...", whatever the command
  std::atomic<std::uint64_t> replies{0};
  std::atomic<std::uint64_t> records_stored{0};  // newer records accepted (IAMAT or link)
  // Connections closed for a TLS failure (handshake, certificate, record or time-out),
  // on links and on the client TLS port (PROTOCOL.md section 11).
  std::atomic<std::uint64_t> tls_failures_link{0}, tls_failures_client{0};
  // The NATS backbone (PROTOCOL.md section 12).
  std::atomic<std::int64_t> backbone_connected{0};
  std::atomic<std::uint64_t> backbone_acked{0}, backbone_failed{0}, backbone_repairs{0};
  std::atomic<std::uint64_t> backbone_received{0};   // records the watcher delivered
  std::atomic<std::uint64_t> backbone_watch_lag{0};  // messages the watcher has yet to deliver
  std::array<std::atomic<std::uint64_t>, kStatuses.size()> lookups_by_status{};
  std::array<std::atomic<std::uint64_t>, kLookupBoundsSeconds.size() + 1> lookup_latency_buckets{};
  std::atomic<std::uint64_t> lookup_latency_sum_us{0};
  std::vector<std::atomic<std::uint64_t>> loop_lag_us;  // per worker: the last measured lag

  // How long each loop pass kept its loop busy (everything but the wait for I/O): the
  // longest time a ready connection can wait for its worker. One writer per entry (the
  // worker), so counting is a plain load and store; entries are a cache line apart.
  static constexpr std::array<double, 6> kPassBoundsSeconds = {0.0005, 0.001, 0.002,
                                                               0.005,  0.01,  0.05};
  struct alignas(64) LoopPasses {
    std::array<std::atomic<std::uint64_t>, kPassBoundsSeconds.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_us{0}, max_us{0};
  };
  std::vector<LoopPasses> loop_passes;  // per worker

  explicit Metrics(std::size_t workers = 0) : loop_lag_us(workers), loop_passes(workers) {}

  // The worker of loop_passes[worker] only.
  void count_pass(std::size_t worker, std::uint64_t micros) {
    if (worker >= loop_passes.size()) return;
    LoopPasses& l = loop_passes[worker];
    std::size_t b = 0;
    while (b < kPassBoundsSeconds.size() &&
           static_cast<double>(micros) > kPassBoundsSeconds[b] * 1e6)
      ++b;
    auto bump = [](std::atomic<std::uint64_t>& a, std::uint64_t by) {
      a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    };
    bump(l.buckets[b], 1);
    bump(l.sum_us, micros);
    if (micros > l.max_us.load(std::memory_order_relaxed))
      l.max_us.store(micros, std::memory_order_relaxed);
  }

  // Counts one finished WHATSAT lookup: its status word and how long it took.
  void count_lookup(std::string_view status, std::uint64_t micros) {
    std::size_t i = 0;
    while (i + 1 < kStatuses.size() && kStatuses[i] != status) ++i;
    lookups_by_status[i].fetch_add(1, std::memory_order_relaxed);
    std::size_t b = 0;
    while (b < kLookupBoundsSeconds.size() &&
           static_cast<double>(micros) > kLookupBoundsSeconds[b] * 1e6)
      ++b;
    lookup_latency_buckets[b].fetch_add(1, std::memory_order_relaxed);
    lookup_latency_sum_us.fetch_add(micros, std::memory_order_relaxed);
  }
};

}  // namespace herd
