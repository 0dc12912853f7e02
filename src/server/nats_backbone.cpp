#include "server/nats_backbone.hpp"

#include <nats/nats.h>
#include <pthread.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "core/backbone_key.hpp"
#include "core/message.hpp"
#include "server/logging.hpp"

namespace herd {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kPendingCapBytes = 64 * 1024 * 1024;
constexpr std::size_t kPublishBatch = 1024;  // records per pass of the backbone thread
constexpr std::int64_t kMaxInFlight = 4096;  // async publishes awaiting their ack
// A watcher's creation over the last value of every key takes seconds per million keys
// (over 5 s for 2M); one that resumes from a sequence is quick.
constexpr std::int64_t kWatchWaitMinMs = 5000, kWatchWaitMaxMs = 120000;
constexpr std::uint64_t kWatchWaitKeysPerMs = 50;
constexpr std::int64_t kLookupWaitMs = 2000;  // bucket and stream lookups: retried anyway
constexpr std::int64_t kPublishAckWaitMs = 5000;
constexpr std::int64_t kHeartbeatNs = 1000000000;  // missed twice: the watcher is replaced
constexpr std::int64_t kInactiveNs = 10000000000;  // a watcher left behind is deleted after
constexpr auto kRetry = std::chrono::milliseconds(500);
constexpr int kRepairMinMs = 50, kRepairMaxMs = 250;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count());
}

std::string status_text(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  return std::string(natsStatus_GetText(s)) + (last && *last ? std::string(": ") + last : "");
}

// The backbone of the process, for cnats's C callbacks that carry no closure we own.
void ack_handler(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);

}  // namespace

NatsBackbone::NatsBackbone(ServerContext& ctx)
    : ctx_(ctx),
      subject_prefix_("$KV." + ctx.config->backbone.bucket + "."),
      stream_("KV_" + ctx.config->backbone.bucket) {}

NatsBackbone::~NatsBackbone() {
  if (thread_.joinable()) stop(std::chrono::milliseconds(0));
}

void NatsBackbone::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "herd-nats");
    try {
      run();
    } catch (const std::exception& e) {
      log().error("backbone: {}", e.what());
    }
    std::lock_guard lock(mu_);
    thread_done_ = true;
    cv_.notify_all();
  });
}

void NatsBackbone::warn_limited(const std::string& text) {
  const std::uint64_t now = now_ms();
  std::uint64_t last = warned_ms_.load();
  if (last != 0 && now - last < 5000) return;
  if (!warned_ms_.compare_exchange_strong(last, now)) return;  // another thread warned
  log().warn("backbone: {}", text);
}

bool NatsBackbone::connect() {
  const BackboneConfig& b = ctx_.config->backbone;
  if (natsOptions_Create(&opts_) != NATS_OK) return false;
  std::vector<const char*> urls;
  for (const auto& u : b.servers) urls.push_back(u.c_str());
  natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size()));
  natsOptions_SetName(opts_, ("herd " + ctx_.self->name).c_str());
  natsOptions_SetMaxReconnect(opts_, -1);
  natsOptions_SetReconnectWait(opts_, 250);
  natsOptions_SetPingInterval(opts_, 1000);
  // A record goes out at once rather than when cnats's flusher next runs (~1 ms later).
  natsOptions_SetSendAsap(opts_, true);
  natsOptions_SetMaxPingsOut(opts_, 3);
  // Records published while disconnected stay in our pending map, not in cnats's buffer.
  natsOptions_SetReconnectBufSize(opts_, 0);
  natsOptions_SetDisconnectedCB(opts_, on_disconnected, this);
  natsOptions_SetReconnectedCB(opts_, on_reconnected, this);
  // Also what makes cnats watch the watcher's heartbeats (it does only with a handler).
  natsOptions_SetErrorHandler(opts_, on_async_error, this);
  natsOptions_SetRetryOnFailedConnect(opts_, true, on_reconnected, this);
  if (!b.creds_env.empty()) {
    const char* creds = std::getenv(b.creds_env.c_str());
    if (creds && *creds) {
      natsStatus s = natsOptions_SetUserCredentialsFromFiles(opts_, creds, nullptr);
      if (s != NATS_OK) {
        log().error("backbone: credentials file ${} ({}): {}", b.creds_env, creds, status_text(s));
        return false;
      }
    } else {
      log().warn("backbone: ${} is unset or empty: connecting without credentials", b.creds_env);
    }
  }
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts_);
  {
    std::lock_guard lock(mu_);  // stop() may close it from the signal thread
    nc_ = nc;
  }
  if (s == NATS_OK) {
    connected_ = true;
    ctx_.metrics->backbone_connected.store(1, std::memory_order_relaxed);
    log().info("backbone: connected to NATS");
  } else if (s == NATS_NOT_YET_CONNECTED) {
    log().warn("backbone: no NATS server answers yet; serving from the table and retrying");
  } else {
    log().error("backbone: cannot connect to NATS: {}", status_text(s));
    return false;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  // Lookups and creation time out soon and are retried (a cluster that just started has no
  // JetStream leader for a while); only the watcher's creation gets the long wait.
  jo.Wait = kLookupWaitMs;
  jo.PublishAsync.MaxPending = kMaxInFlight;
  jo.PublishAsync.AckHandler = ack_handler;
  jo.PublishAsync.AckHandlerClosure = this;
  jo.PublishAsync.StallWait = 100;
  s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) {
    log().error("backbone: JetStream context: {}", status_text(s));
    return false;
  }
  return true;
}

bool NatsBackbone::ensure_bucket() {
  const BackboneConfig& b = ctx_.config->backbone;
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, js_, b.bucket.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = b.bucket.c_str();
    kc.History = 1;
    kc.StorageType = js_FileStorage;
    kc.Replicas = b.replicas;
    s = js_CreateKeyValue(&kv, js_, &kc);
    if (s == NATS_OK) {
      log().info("backbone: created bucket {} (history 1, file storage, {} replicas)", b.bucket,
                 b.replicas);
    }
  }
  if (s != NATS_OK) {
    warn_limited("bucket " + b.bucket + " not ready: " + status_text(s) + "; retrying");
    return false;
  }
  kvStore_Destroy(kv);
  return true;
}

bool NatsBackbone::subscribe() {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsOptions quick;
  jsOptions_Init(&quick);
  quick.Wait = kLookupWaitMs;  // a new replicated stream answers once it has a leader
  natsStatus s = js_GetStreamInfo(&si, js_, stream_.c_str(), &quick, &jerr);
  if (s != NATS_OK) {
    warn_limited("stream " + stream_ + " info: " + status_text(s) + "; retrying");
    return false;
  }
  const std::uint64_t msgs = si->State.Msgs;
  const std::uint64_t last_seq = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  // The first replay is done once the watcher reaches the stream's last message as of now:
  // it delivers in stream order, so every client's value up to there has come. (Waiting
  // for "nothing pending" instead would never end under a steady stream of new records.)
  if (!replayed_.load(std::memory_order_acquire))
    replay_until_seq_.store(last_seq, std::memory_order_release);
  std::uint64_t start = 0;  // 0: the last value of every key
  {
    std::lock_guard wl(watch_mu_);
    if (resume_seq_ > last_seq) {
      log().warn(
          "backbone: stream {} ends at {}, before the {} already received (recreated?): "
          "watching it whole again",
          stream_, last_seq, resume_seq_);
      resume_seq_ = 0;
    }
    if (resume_seq_ > 0) start = resume_seq_ + 1;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream_.c_str();
  // What cnats's Ordered option sets, with herd checking the order (see in_order).
  so.Config.AckPolicy = js_AckNone;
  so.Config.MaxDeliver = 1;
  so.Config.FlowControl = true;
  so.Config.Heartbeat = kHeartbeatNs;
  so.Config.MemoryStorage = true;
  so.Config.Replicas = 1;
  so.Config.InactiveThreshold = kInactiveNs;
  if (start == 0) {
    so.Config.DeliverPolicy = js_DeliverLastPerSubject;
  } else {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start;
  }
  const std::string subject = subject_prefix_ + ">";
  jsOptions slow;
  jsOptions_Init(&slow);
  slow.Wait = kWatchWaitMinMs;
  if (start == 0) {
    slow.Wait = std::min<std::int64_t>(
        kWatchWaitMaxMs, kWatchWaitMinMs + static_cast<std::int64_t>(msgs / kWatchWaitKeysPerMs));
  }
  watch_broken_.store(false, std::memory_order_release);
  s = js_Subscribe(&sub_, js_, subject.c_str(), on_msg, this, &slow, &so, &jerr);
  if (s != NATS_OK) {
    warn_limited("watching " + subject + ": " + status_text(s) + "; retrying");
    sub_ = nullptr;
    return false;
  }
  current_sub_.store(sub_, std::memory_order_release);
  natsSubscription_SetPendingLimits(sub_, -1, -1);  // the replay may be millions of keys
  if (start == 0) {
    log().info("backbone: watching bucket {} ({} messages in its stream)",
               ctx_.config->backbone.bucket, msgs);
  } else {
    log().info("backbone: watching bucket {} from stream sequence {}", ctx_.config->backbone.bucket,
               start);
  }
  if (msgs == 0 && !replayed_.exchange(true))
    log().info("backbone: initial replay done (empty bucket)");
  return true;
}

void NatsBackbone::retire_watcher(const char* why) {
  natsSubscription* old = sub_;
  sub_ = nullptr;
  std::uint64_t resume = 0;
  {
    std::lock_guard wl(watch_mu_);
    retired_sid_ = std::max(retired_sid_, natsSubscription_GetID(old));
    resume = resume_seq_;
  }
  current_sub_.store(nullptr, std::memory_order_release);
  retired_subs_.push_back(old);  // its messages from now on are ignored (in_order)
  log().warn("backbone: watcher dropped ({}); the next one starts after stream sequence {}", why,
             resume);
}

void NatsBackbone::free_retired_watchers() {
  // Unsubscribing deletes the consumer too (a JetStream request, up to kLookupWaitMs): done
  // only while connected, where it is quick (else the server drops it after kInactiveNs).
  std::size_t removed = 0;
  for (natsSubscription* s : retired_subs_) {
    if (natsSubscription_IsValid(s)) natsSubscription_Unsubscribe(s);
    if (natsSubscription_IsValid(s)) break;  // not unsubscribed (NATS went away): later
    ++removed;
  }
  if (removed == 0) return;
  // The PONG comes after every message the server sent before it; the reader that reads it
  // has finished with any message it read before (a reconnection joins the old reader).
  const natsStatus f = natsConnection_FlushTimeout(nc_, kLookupWaitMs);
  if (f != NATS_OK) {
    warn_limited("a flush to free a retired watcher: " + status_text(f) + "; retrying");
    return;
  }
  for (std::size_t i = 0; i < removed; ++i) natsSubscription_Destroy(retired_subs_[i]);
  retired_subs_.erase(retired_subs_.begin(),
                      retired_subs_.begin() + static_cast<std::ptrdiff_t>(removed));
}

void NatsBackbone::run() {
  if (!connect()) {
    log().error("backbone: NATS is not used; records stay on this server");
    return;
  }
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (sub_ && (!connected_ || watch_broken_.load(std::memory_order_acquire))) {
      // A watcher that lost messages, its heartbeats or NATS itself is replaced by one that
      // starts where it stopped (once NATS is back).
      lock.unlock();
      retire_watcher(!connected_ ? "NATS is away"
                                 : "a gap in its sequence, or its heartbeats stopped");
      lock.lock();
      continue;
    }
    if (connected_ && !retired_subs_.empty()) {
      lock.unlock();
      free_retired_watchers();
      lock.lock();
    }
    if (connected_ && !bucket_ready_) {
      lock.unlock();
      bucket_ready_ = ensure_bucket();
      lock.lock();
    }
    if (connected_ && bucket_ready_) publish_some(lock);
    if (connected_ && bucket_ready_ && !sub_) {
      lock.unlock();
      subscribe();
      lock.lock();
    }
    auto wake =
        Clock::now() + (connected_ && bucket_ready_ && sub_ ? std::chrono::seconds(1) : kRetry);
    for (const auto& [id, r] : repairs_) wake = std::min(wake, r.due);
    // More to publish at once, unless a publish just failed (then wait, never spin).
    const bool more = connected_ && bucket_ready_ && !publish_stalled_ &&
                      (!pending_.empty() || resync_) && in_flight_.load() < kMaxInFlight;
    if (publish_stalled_) wake = std::min(wake, Clock::now() + std::chrono::milliseconds(100));
    if (!more) cv_.wait_until(lock, wake);
  }
  // Stopping: what is pending goes out while NATS is up, until the deadline.
  while (connected_ && bucket_ready_ && (!pending_.empty() || in_flight_.load() > 0) &&
         Clock::now() < stop_deadline_) {
    publish_some(lock);
    cv_.wait_until(lock, std::min(stop_deadline_, Clock::now() + std::chrono::milliseconds(20)));
  }
  if (!pending_.empty() || in_flight_.load() > 0) {
    log().warn("backbone: stopping with {} records unpublished and {} unacknowledged",
               pending_.size(), in_flight_.load());
  }
}

void NatsBackbone::publish_some(std::unique_lock<std::mutex>& lock) {
  // Repairs that are due join the pending records (unless a newer one is pending).
  const auto now = Clock::now();
  for (auto it = repairs_.begin(); it != repairs_.end();) {
    if (it->second.due > now) {
      ++it;
      continue;
    }
    ctx_.metrics->backbone_repairs.fetch_add(1, std::memory_order_relaxed);
    RecordRef now_held = ctx_.table.find(it->first);  // newer than the held one, if it changed
    requeue(now_held ? now_held : it->second.held);
    it = repairs_.erase(it);
  }
  std::vector<RecordRef> batch;
  for (auto it = pending_.begin();
       it != pending_.end() && batch.size() < kPublishBatch &&
       in_flight_.load() + static_cast<std::int64_t>(batch.size()) < kMaxInFlight;) {
    pending_bytes_ -= it->second->line().size();
    batch.push_back(std::move(it->second));
    it = pending_.erase(it);
  }
  if (batch.empty() && resync_ && in_flight_.load() < kMaxInFlight) {
    // The pending map overflowed while NATS was away: republish the table, a chunk at a time.
    if (ctx_.table.snapshot_stripe(resync_stripe_, resync_cursor_, kPublishBatch, batch)) {
      resync_cursor_ = {};
      if (++resync_stripe_ == ClientTable::kStripes) {
        resync_ = false;
        resync_stripe_ = 0;
        log().info("backbone: the whole table was republished");
      }
    }
  }
  if (batch.empty()) {
    publish_stalled_ = false;
    return;
  }
  lock.unlock();
  std::size_t sent = 0;
  for (; sent < batch.size() && connected_; ++sent) {
    if (!publish(batch[sent])) break;
  }
  lock.lock();
  for (std::size_t i = sent; i < batch.size(); ++i) requeue(batch[i]);
  publish_stalled_ = sent < batch.size();
  pending_count_.store(pending_.size(), std::memory_order_relaxed);
}

bool NatsBackbone::publish(const RecordRef& rec) {
  const std::string subject = subject_prefix_ + bucket_key(rec->client_id());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = kPublishAckWaitMs;
  const std::string_view line = rec->line();
  in_flight_.fetch_add(1);
  natsStatus s =
      js_PublishAsync(js_, subject.c_str(), line.data(), static_cast<int>(line.size()), &po);
  if (s != NATS_OK) {
    in_flight_.fetch_sub(1);
    warn_limited("publish: " + status_text(s) + "; kept for later");
    return false;
  }
  return true;
}

void NatsBackbone::requeue(const RecordRef& rec) {
  if (!rec) return;
  std::string id(rec->client_id());
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    if (!is_newer(*rec, *it->second)) return;
    pending_bytes_ -= it->second->line().size();
    it->second = rec;
  } else {
    if (pending_bytes_ + rec->line().size() > kPendingCapBytes) {
      if (!resync_) {
        log().warn(
            "backbone: over {} MiB waiting for NATS; the whole table will be republished "
            "once it is back",
            kPendingCapBytes >> 20);
      }
      resync_ = true;
      resync_stripe_ = 0;
      resync_cursor_ = {};
      return;
    }
    pending_.emplace(std::move(id), rec);
  }
  pending_bytes_ += rec->line().size();
}

void NatsBackbone::post(std::vector<RecordRef> recs) {
  {
    std::lock_guard lock(mu_);
    for (const auto& r : recs) requeue(r);
    pending_count_.store(pending_.size(), std::memory_order_relaxed);
  }
  cv_.notify_one();
}

namespace {

void ack_handler(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* b = static_cast<NatsBackbone*>(closure);
  b->on_ack(msg, pa != nullptr && pae == nullptr);
  natsMsg_Destroy(msg);
}

}  // namespace

void NatsBackbone::on_ack(natsMsg* msg, bool ok) {
  in_flight_.fetch_sub(1);
  if (ok) {
    ctx_.metrics->backbone_acked.fetch_add(1, std::memory_order_relaxed);
  } else {
    ctx_.metrics->backbone_failed.fetch_add(1, std::memory_order_relaxed);
    // Published but not acknowledged: publish it again (unless a newer one waits).
    std::string_view line(natsMsg_GetData(msg),
                          static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    Message m = parse_message(line);
    if (m.kind == MessageKind::at) {
      RecordRef rec = RecordRef::from_at_line(line, m);
      std::lock_guard lock(mu_);
      requeue(rec);
      pending_count_.store(pending_.size(), std::memory_order_relaxed);
    }
  }
  cv_.notify_one();
}

void NatsBackbone::on_msg(natsConnection*, natsSubscription* sub, natsMsg* msg, void* closure) {
  auto* b = static_cast<NatsBackbone*>(closure);
  try {
    b->handle_msg(msg, natsSubscription_GetID(sub));
  } catch (const std::exception& e) {
    log().error("backbone: {}", e.what());
  }
  natsMsg_Destroy(msg);
}

bool NatsBackbone::in_order(std::int64_t sid, std::uint64_t consumer_seq,
                            std::uint64_t stream_seq) {
  std::lock_guard wl(watch_mu_);
  if (sid <= retired_sid_ || sid < watch_sid_) return false;  // a retired watcher's late one
  if (sid > watch_sid_) {                                     // a new watcher's first message
    watch_sid_ = sid;
    next_consumer_seq_ = 1;
  }
  if (next_consumer_seq_ == 0) return false;  // this watcher has a gap already
  if (consumer_seq != next_consumer_seq_) {
    next_consumer_seq_ = 0;
    watch_broken_.store(true, std::memory_order_release);
    cv_.notify_one();
    return false;
  }
  ++next_consumer_seq_;
  resume_seq_ = stream_seq;
  return true;
}

void NatsBackbone::handle_msg(natsMsg* msg, std::int64_t sid) {
  // The first message with nothing after it ends the first replay, once it is offered.
  // Every value is offered (the rule makes their order irrelevant), but only one received
  // in order counts for the replay and for where the next watcher starts.
  bool last = false;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    ctx_.metrics->backbone_watch_lag.store(meta->NumPending, std::memory_order_relaxed);
    if (in_order(sid, meta->Sequence.Consumer, meta->Sequence.Stream)) {
      last = meta->NumPending == 0 ||
             meta->Sequence.Stream >= replay_until_seq_.load(std::memory_order_acquire);
    }
    jsMsgMetaData_Destroy(meta);
  }
  struct ReplayMark {
    NatsBackbone* b;
    bool last;
    ~ReplayMark() {
      if (last && !b->replayed_.exchange(true, std::memory_order_acq_rel)) {
        log().info("backbone: initial replay done ({} records in the table)", b->ctx_.table.size());
      }
    }
  } mark{this, last};
  const int len = natsMsg_GetDataLength(msg);
  if (len <= 0) return;  // a delete or purge marker
  std::string_view line(natsMsg_GetData(msg), static_cast<std::size_t>(len));
  std::string_view subject = natsMsg_GetSubject(msg);
  Message m = parse_message(line);
  RecordRef rec = m.kind == MessageKind::at ? RecordRef::from_at_line(line, m) : RecordRef();
  // The key must be the record's own: a value put under another key is not trusted.
  if (!rec || subject.substr(0, subject_prefix_.size()) != subject_prefix_ ||
      subject.substr(subject_prefix_.size()) != bucket_key(rec->client_id())) {
    warn_limited("ignoring a bucket value that is not an AT line under its client's key: " +
                 std::string(for_log(line.substr(0, 200))));
    return;
  }
  ctx_.metrics->backbone_received.fetch_add(1, std::memory_order_relaxed);
  if (ctx_.table.offer(rec)) {
    ctx_.metrics->records_stored.fetch_add(1, std::memory_order_relaxed);
  }
  // Repair: the bucket's last value for this client is older than what we hold.
  RecordRef held = ctx_.table.find(rec->client_id());
  std::lock_guard lock(mu_);
  auto it = repairs_.find(std::string(rec->client_id()));
  if (held && is_newer(*held, *rec)) {
    if (it == repairs_.end()) {
      static thread_local std::mt19937 rng(std::random_device{}());
      std::uniform_int_distribution<int> jitter(kRepairMinMs, kRepairMaxMs);
      repairs_.emplace(std::string(rec->client_id()),
                       Repair{held, Clock::now() + std::chrono::milliseconds(jitter(rng))});
      cv_.notify_one();
    }
  } else if (it != repairs_.end() && !is_newer(*it->second.held, *rec)) {
    repairs_.erase(it);  // someone published the winner (or a newer record) already
  }
}

void NatsBackbone::on_disconnected(natsConnection*, void* closure) {
  auto* b = static_cast<NatsBackbone*>(closure);
  if (b->connected_.exchange(false)) {
    b->ctx_.metrics->backbone_connected.store(0, std::memory_order_relaxed);
    log().warn("backbone: disconnected from NATS; records wait (newest per client)");
  }
  b->cv_.notify_one();  // the watcher goes at once (see run)
}

void NatsBackbone::on_async_error(natsConnection*, natsSubscription* sub, natsStatus s,
                                  void* closure) {
  auto* b = static_cast<NatsBackbone*>(closure);
  if (sub && (s == NATS_MISSED_HEARTBEAT || s == NATS_MISMATCH || s == NATS_SLOW_CONSUMER)) {
    // Only the current watcher matters: not a retired one, nor one still being created.
    // cnats 3.4.1 does not hold the subscription for this callback: it may be gone (a
    // retired watcher), so it is only compared, never used (an address reused by a new
    // watcher at worst replaces that one once more, resuming where it was).
    if (sub == b->current_sub_.load(std::memory_order_acquire)) {
      b->watch_broken_.store(true, std::memory_order_release);
      b->cv_.notify_one();
    }
    return;
  }
  b->warn_limited(std::string("NATS: ") + natsStatus_GetText(s));
}

void NatsBackbone::on_reconnected(natsConnection*, void* closure) {
  auto* b = static_cast<NatsBackbone*>(closure);
  if (!b->connected_.exchange(true)) {
    b->ctx_.metrics->backbone_connected.store(1, std::memory_order_relaxed);
    log().info("backbone: connected to NATS");
  }
  b->cv_.notify_one();
}

void NatsBackbone::stop(std::chrono::milliseconds grace) {
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    stop_deadline_ = Clock::now() + grace;
    cv_.notify_one();
    // The thread may sit in a JetStream request (a watcher's creation waits up to 120 s):
    // closing the connection makes such a request fail at once.
    if (!cv_.wait_until(lock, stop_deadline_ + std::chrono::milliseconds(200),
                        [this] { return thread_done_; }) &&
        nc_) {
      log().warn("backbone: a NATS request is still waiting; closing the connection");
      natsConnection_Close(nc_);
    }
  }
  if (thread_.joinable()) thread_.join();
  close_nats();
}

void NatsBackbone::close_nats() {
  // The consumer is deleted while NATS is up; the subscriptions are freed once the
  // connection is closed and its reader joined (see retired_subs_).
  if (sub_) {
    natsSubscription_Unsubscribe(sub_);
    retired_subs_.push_back(sub_);
    sub_ = nullptr;
  }
  if (nc_) natsConnection_Close(nc_);
  for (natsSubscription* s : retired_subs_) natsSubscription_Destroy(s);
  retired_subs_.clear();
  if (js_) {
    jsCtx_Destroy(js_);
    js_ = nullptr;
  }
  if (nc_) {
    natsConnection_Destroy(nc_);
    nc_ = nullptr;
  }
  if (opts_) {
    natsOptions_Destroy(opts_);
    opts_ = nullptr;
  }
  // No cnats thread may call back into this object once it is gone.
  nats_CloseAndWait(1000);
}

}  // namespace herd
