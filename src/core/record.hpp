#pragma once
// A client's record: its AT line (PROTOCOL.md section 3), stored once and shared by the
// client table, replies and link queues through reference counting.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/geo.hpp"
#include "core/message.hpp"
#include "core/timestamp.hpp"

namespace herd {

// One block of the record pool (core/record_pool.hpp): an 8-byte header followed by the
// AT line and a '\n'. Immutable after creation except for the reference count, so any
// thread may read it. Only the line is stored: the client id, location and client time are read
// from it when asked for (a scan of the line's first fields, or of its last one), which keeps a
// stored client to the line's length plus 9 bytes, rounded up to 16.
class Record {
 public:
  std::string_view line() const { return {text(), line_len_}; }          // without '\n'
  std::string_view line_nl() const { return {text(), line_len_ + 1u}; }  // with '\n'
  std::string_view client_id() const { return field(3); }
  std::string_view location_text() const { return field(4); }
  Timestamp client_time() const;
  std::uint64_t id_hash() const;

 private:
  friend class RecordRef;
  Record() = default;
  // Allocates a block for a line of line_len bytes, with the '\n' already written.
  static Record* allocate(std::size_t line_len);
  const char* text() const { return reinterpret_cast<const char*>(this + 1); }
  char* text() { return reinterpret_cast<char*>(this + 1); }
  // Field k (0: "AT") of the line, which was validated when the record was built.
  std::string_view field(std::size_t k) const;

  std::atomic<std::uint32_t> refs_{1};
  std::uint32_t line_len_ = 0;
};
static_assert(sizeof(Record) == 8);

// Owning, thread-safe reference to a Record (an intrusive shared pointer).
class RecordRef {
 public:
  RecordRef() = default;
  RecordRef(const RecordRef& o) : r_(o.r_) { retain(); }
  RecordRef(RecordRef&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  RecordRef& operator=(RecordRef o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  ~RecordRef() { release(); }

  // Builds the record of an AT line whose fields were parsed into m (kind at). The line
  // is copied into the block; it must hold no '\n' and be shorter than 4 GiB (lines are
  // bounded far below that).
  static RecordRef from_at_line(std::string_view at_line, const Message& m);

  // Builds the AT line for an IAMAT received by `server` at wall-clock time `now`.
  static RecordRef from_iamat(std::string_view server, Timestamp now, const Message& m);

  const Record* get() const { return r_; }
  const Record* operator->() const { return r_; }
  const Record& operator*() const { return *r_; }
  explicit operator bool() const { return r_ != nullptr; }

  // Releases ownership without decrementing; for storage in tables (see adopt).
  const Record* leak() { return std::exchange(r_, nullptr); }
  static RecordRef adopt(const Record* r) {
    RecordRef ref;
    ref.r_ = const_cast<Record*>(r);
    return ref;
  }
  static RecordRef share(const Record* r) {
    RecordRef ref = adopt(r);
    ref.retain();
    return ref;
  }

 private:
  void retain() {
    if (r_) r_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void release();

  Record* r_ = nullptr;
};

// The client table's hash of a client id: SipHash-1-3 under a key drawn at random once per
// process, so nobody can choose ids that crowd one stripe or one probe chain.
std::uint64_t hash_client_id(std::string_view id);

// SipHash with c_rounds compression and d_rounds finalisation rounds (2, 4 is the
// reference SipHash-2-4; hash_client_id uses 1, 3).
std::uint64_t siphash(std::uint64_t k0, std::uint64_t k1, std::string_view data, int c_rounds,
                      int d_rounds);

// The ordering rule of section 3: newer client time wins; on a tie the bytewise greater
// AT line wins.
bool is_newer(const Record& a, const Record& b);
// The same, with ta == a.client_time() already known.
bool is_newer(const Record& a, Timestamp ta, const Record& b);

}  // namespace herd
