#pragma once
// The client table: client id -> newest record, shared by every worker thread. Lock
// striped (256 stripes, each an open-addressing hash table under its own mutex), so
// there is no global lock; all methods are safe from any thread.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/record.hpp"

namespace herd {

class ClientTable {
 public:
  static constexpr std::size_t kStripes = 256;

  ClientTable() = default;
  ~ClientTable();
  ClientTable(const ClientTable&) = delete;
  ClientTable& operator=(const ClientTable&) = delete;

  // Stores rec if the table holds no record for its client or rec is newer (is_newer).
  // Returns true if it was stored.
  bool offer(const RecordRef& rec) {
    return offer(rec, hash_client_id(rec->client_id()), rec->client_time());
  }
  // The same, with hash == hash_client_id(rec->client_id()) and time == rec->client_time()
  // already known.
  bool offer(const RecordRef& rec, std::uint64_t hash, Timestamp time);

  // The stored record for a client, or an empty reference.
  RecordRef find(std::string_view client_id) const {
    return find(client_id, hash_client_id(client_id));
  }
  RecordRef find(std::string_view client_id, std::uint64_t hash) const;

  // Hints for a batch of lookups (hash: hash_client_id of the client id), so that their
  // cache misses overlap instead of following one another: prefetch_slots asks for the
  // line of slots a lookup probes first (without the stripe's lock: it reads nothing but
  // two atomics); prefetch_record, issued once those slots have had time to arrive, asks
  // for the record a lookup will compare (under the stripe's lock). Neither changes
  // anything.
  void prefetch_slots(std::uint64_t hash) const;
  void prefetch_record(std::uint64_t hash) const;

  // Where a catch-up is in one stripe: a slot index and the stripe's layout generation.
  struct StripeCursor {
    std::size_t slot = 0;
    std::uint64_t generation = 0;
  };

  // For catch-up: appends up to max_records records of one stripe (0 .. kStripes-1),
  // starting at the cursor (value-initialised to start), and advances it. Returns true
  // once the stripe is done. If the stripe was rehashed since the cursor was taken, the
  // stripe starts over: a record may be sent twice, none present throughout is missed.
  bool snapshot_stripe(std::size_t stripe, StripeCursor& cursor, std::size_t max_records,
                       std::vector<RecordRef>& out) const;

  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  // 8 bytes: a record's address (8-byte aligned, below 2^48: 45 bits once shifted) and 19
  // bits of its client id's hash (bits 8..26; bits 0..7 chose the stripe). The slot a
  // record probes first is computed from those 19 bits, so growing a stripe reads no
  // record; a probe reads a record only when all 19 bits match.
  struct Slot {
    std::uint64_t bits = 0;
    static constexpr int kPtrBits = 45;
    static constexpr int kFragBits = 64 - kPtrBits;
    static std::uint64_t frag_of(std::uint64_t hash) {
      return (hash >> 8) & ((std::uint64_t{1} << kFragBits) - 1);
    }
    const Record* rec() const {
      return reinterpret_cast<const Record*>((bits & ((std::uint64_t{1} << kPtrBits) - 1)) << 3);
    }
    std::uint64_t frag() const { return bits >> kPtrBits; }
    bool empty() const { return bits == 0; }
    void set(const Record* r, std::uint64_t hash);
  };
  struct alignas(64) Stripe {
    mutable std::mutex mu;
    std::vector<Slot> slots;  // empty, or 16 grown by half each time; linear probing
    // slots.data() and slots.size(), for prefetch_slots (which holds no lock: a stale pair
    // only makes it ask for a useless line; a prefetch never faults).
    std::atomic<std::uintptr_t> base{0};
    std::atomic<std::size_t> nslots{0};
    std::size_t used = 0;
    std::uint64_t generation = 1;  // changes whenever slots are rehashed
  };

  static Stripe& stripe_of(const std::array<Stripe, kStripes>& s, std::uint64_t h) {
    return const_cast<Stripe&>(s[h & (kStripes - 1)]);
  }
  static void grow(Stripe& s);
  // The slot a hash fragment (Slot::frag_of) probes first in a table of `size` slots.
  static std::size_t home(std::uint64_t frag, std::size_t size);

  std::array<Stripe, kStripes> stripes_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace herd
