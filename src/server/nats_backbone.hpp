#pragma once
// The NATS JetStream backbone (PROTOCOL.md section 12): records travel through a key-value
// bucket instead of links. Every record a server stores is published (asynchronously,
// newest per client) under its client id; a watcher (an ordered push consumer that
// starts with the last value of every key) offers every record in the bucket to the
// table under section 3's rule; a server that sees the bucket hold an older record than
// its own republishes its own (a repair, delayed and cancelled if someone else's repair
// or a newer record shows up first, so a race ends after finitely many publishes).
//
// cnats runs on its own threads plus one backbone thread of ours (connecting, making the
// bucket, subscribing, publishing); the loops only hand over a batch per pass (post) and
// never wait on NATS. While NATS is unreachable the records wait (newest per client, at
// most kPendingCapBytes; past that the whole table is republished once NATS is back).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nats/status.h>

#include "core/client_table.hpp"
#include "core/record.hpp"
#include "server/context.hpp"

typedef struct __natsConnection natsConnection;
typedef struct __natsOptions natsOptions;
typedef struct __natsSubscription natsSubscription;
typedef struct __natsMsg natsMsg;
typedef struct __jsCtx jsCtx;

namespace herd {

class NatsBackbone {
 public:
  explicit NatsBackbone(ServerContext& ctx);
  ~NatsBackbone();
  NatsBackbone(const NatsBackbone&) = delete;
  NatsBackbone& operator=(const NatsBackbone&) = delete;

  // Starts the backbone thread; returns at once (NATS may be down).
  void start();

  // Any thread: records a loop stored during one pass, to publish.
  void post(std::vector<RecordRef> recs);

  // Publishes what is pending for at most `grace` if NATS is up, then closes everything
  // and waits for cnats's threads. Blocking: the signal thread, once the loops stopped.
  void stop(std::chrono::milliseconds grace);

  // The first full replay of the bucket is done (PROTOCOL.md: /healthz is 503 before).
  bool replayed() const { return replayed_.load(std::memory_order_acquire); }
  // Records waiting to be published or for their acknowledgement.
  std::int64_t pending() const {
    return static_cast<std::int64_t>(pending_count_.load(std::memory_order_relaxed)) +
           in_flight_.load(std::memory_order_relaxed);
  }

  // cnats's thread: an async publish was acknowledged (ok) or failed (kept for later).
  void on_ack(natsMsg* msg, bool ok);

 private:
  struct Repair {
    RecordRef held;
    std::chrono::steady_clock::time_point due;
  };

  void run();
  bool connect();
  bool ensure_bucket();
  bool subscribe();
  void publish_some(std::unique_lock<std::mutex>& lock);
  bool publish(const RecordRef& rec);
  void requeue(const RecordRef& rec);  // under mu_
  void close_nats();
  void warn_limited(const std::string& text);

  static void on_msg(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  void handle_msg(natsMsg* msg, std::int64_t sid);
  // Whether a message of watcher `sid` continues its consumer's sequence; notes where the
  // watch stands (under watch_mu_). A gap marks the watcher broken.
  bool in_order(std::int64_t sid, std::uint64_t consumer_seq, std::uint64_t stream_seq);
  void retire_watcher(const char* why);
  void free_retired_watchers();
  static void on_disconnected(natsConnection* nc, void* closure);
  static void on_reconnected(natsConnection* nc, void* closure);
  static void on_async_error(natsConnection* nc, natsSubscription* sub, natsStatus err,
                             void* closure);

  ServerContext& ctx_;
  const std::string subject_prefix_;  // "$KV.<bucket>."
  const std::string stream_;          // "KV_<bucket>"
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  natsSubscription* sub_ = nullptr;
  // Retired watchers, not yet freed. cnats 3.4.1's reader thread uses a subscription it
  // looked up without holding it (natsConn_processMsg; fixed in cnats 3.6.1): freeing one
  // while a message for it is being read is a use after free. So a retired watcher is
  // unsubscribed once NATS is up, and freed only after a round trip to the server (a
  // PING's PONG, read by the same reader after any message it was reading) or after the
  // connection closed (its reader joined).
  std::vector<natsSubscription*> retired_subs_;
  bool bucket_ready_ = false;
  std::thread thread_;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::unordered_map<std::string, RecordRef> pending_;  // client id -> newest to publish
  std::size_t pending_bytes_ = 0;
  std::unordered_map<std::string, Repair> repairs_;
  bool resync_ = false;  // pending_ overflowed: republish the whole table when connected
  std::size_t resync_stripe_ = 0;
  ClientTable::StripeCursor resync_cursor_;
  bool stopping_ = false;
  bool thread_done_ = false;
  bool publish_stalled_ = false;  // the last publish failed: retry after a pause
  std::chrono::steady_clock::time_point stop_deadline_;

  // The watcher is herd's own ordered consumer (cnats's Ordered option crashes in 3.4.1 when
  // its reset fails: SIGSEGV in natsThread_Detach). Each watcher is an ephemeral push
  // consumer of its own subscription id; its messages must arrive with consumer sequences
  // 1, 2, 3...; a gap, missed heartbeats or a lost connection retire it, and the next one
  // starts after the last stream sequence received in order.
  std::mutex watch_mu_;           // guards the four fields below (cnats's delivery threads)
  std::int64_t watch_sid_ = 0;    // the newest watcher that delivered
  std::int64_t retired_sid_ = 0;  // watchers up to this one are retired
  std::uint64_t next_consumer_seq_ = 1;
  std::uint64_t resume_seq_ = 0;  // stream sequence of the last message received in order
  std::atomic<natsSubscription*> current_sub_{nullptr};  // the watcher the backbone holds
  std::atomic<bool> watch_broken_{false};

  std::atomic<bool> connected_{false};
  std::atomic<bool> replayed_{false};
  std::atomic<std::uint64_t> replay_until_seq_{0};  // the stream's last sequence at the watch
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::size_t> pending_count_{0};
  std::atomic<std::uint64_t> warned_ms_{0};
};

}  // namespace herd
