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
  bool offer(const RecordRef& rec);

  // The stored record for a client, or an empty reference.
  RecordRef find(std::string_view client_id) const;

  // Appends the records of one stripe (0 .. kStripes-1) to out, for catch-up.
  void snapshot_stripe(std::size_t stripe, std::vector<RecordRef>& out) const;

  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    const Record* rec = nullptr;  // owned: one reference, released by the destructor
  };
  struct alignas(64) Stripe {
    mutable std::mutex mu;
    std::vector<Slot> slots;  // size 0 or a power of two
    std::size_t used = 0;
  };

  static Stripe& stripe_of(const std::array<Stripe, kStripes>& s, std::uint64_t h) {
    return const_cast<Stripe&>(s[h & (kStripes - 1)]);
  }
  static void grow(Stripe& s);

  std::array<Stripe, kStripes> stripes_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace herd
