#pragma once
// The link layer's connection and neighbour state, shared by links.cpp (dialling,
// reading, writing, flooding, catch-up) and links_handshake.cpp. Worker 0's loop only.
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/client_table.hpp"
#include "core/line_splitter.hpp"
#include "core/record.hpp"
#include "core/tls_channel.hpp"
#include "server/links.hpp"

namespace herd {

namespace link_limits {
constexpr std::size_t kQueueCapBytes = 16 * 1024 * 1024;  // floods; a slower link is dropped
constexpr std::size_t kCatchupLowWater = 256 * 1024;      // refill catch-up below this
constexpr std::size_t kCatchupChunk = 1024;               // records taken per table lock
constexpr std::uint64_t kBackoffMinMs = 100, kBackoffMaxMs = 5000;
constexpr std::uint64_t kHandshakeTimeoutMs = 5000;
constexpr std::size_t kHandshakeMaxLine = 512;  // handshake lines are far shorter
constexpr std::size_t kMaxHandshakes = 64;      // connections not yet up, at once
constexpr std::uint64_t kWakeMinIntervalMs = 100;
constexpr std::uint64_t kReleaseGraceMs = 1000;
constexpr int kLinesPerPass = 512;  // then reading yields to the rest of the loop
constexpr std::size_t kMaxIov = 1024;
}  // namespace link_limits

struct Links::Peer {
  Links* links = nullptr;
  std::string name, host;
  std::uint16_t port = 0;
  bool i_dial = false;      // the server whose name sorts first dials
  Conn* up = nullptr;       // the live link, if any
  Conn* dialing = nullptr;  // our outgoing attempt (connecting or handshaking)
  uv_timer_t retry{};
  std::uint64_t backoff_ms = link_limits::kBackoffMinMs;
  std::uint64_t last_wake_ms = 0;  // when a wake from this neighbour last made us dial
};

// One uv_write of a link: its buffers stay alive until the write completes. A link may
// have several in flight, so new records always reach the socket at once (PROTOCOL.md
// section 6: the flood leaves no later than the AT reply).
struct LinkWrite {
  uv_write_t req{};
  Links::Conn* conn = nullptr;
  std::string control;
  std::vector<RecordRef> recs;
  std::size_t rec_bytes = 0;
  std::string cipher;  // over TLS: the encrypted bytes (control and recs are then empty)
};

struct Links::Conn {
  using State = ConnState;

  Links* links = nullptr;
  Peer* peer = nullptr;  // null until an incoming hello names a neighbour
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  LineSplitter splitter{link_limits::kHandshakeMaxLine};
  std::unique_ptr<TlsChannel> tls;  // when the herd has [tls]: every byte goes through it
  State state = State::connecting;
  bool dialled = false;
  std::string remote;
  std::string nonce_d, nonce_a;
  std::uint64_t started_ms = 0;

  std::string control;           // handshake lines waiting to be written (before records)
  std::deque<RecordRef> floods;  // new records: written before catch-up
  std::deque<RecordRef> catchup;
  std::size_t queued_bytes = 0;  // of floods and catch-up, including writes in flight
  int writes_in_flight = 0;
  std::vector<uv_buf_t> iov;
  bool dirty = false;

  bool catching_up = false;
  bool catchup_draining = false;  // every record queued; logs once the queue is written
  std::size_t next_stripe = 0;
  ClientTable::StripeCursor cursor;
  std::uint64_t catchup_records = 0, catchup_start_ms = 0;

  bool reading = false;
  bool paused = false;
  int lines_this_pass = 0;
  bool draining = false;               // closes once its output is written; reads nothing more
  const char* drain_reason = nullptr;  // logged at that close, if set
  bool closing = false;

  const char* who() const { return peer ? peer->name.c_str() : "?"; }
};

}  // namespace herd
