#include "core/client_table.hpp"

namespace herd {

ClientTable::~ClientTable() {
  for (auto& s : stripes_) {
    for (auto& slot : s.slots) {
      if (slot.rec) RecordRef::adopt(slot.rec);  // releases the table's reference
    }
  }
}

void ClientTable::grow(Stripe& s) {
  std::vector<Slot> old;
  old.swap(s.slots);
  s.slots.assign(old.empty() ? 16 : old.size() * 2, Slot{});
  ++s.generation;
  const std::size_t mask = s.slots.size() - 1;
  for (const Slot& o : old) {
    if (!o.rec) continue;
    std::size_t i = (o.hash >> 8) & mask;
    while (s.slots[i].rec) i = (i + 1) & mask;
    s.slots[i] = o;
  }
}

bool ClientTable::offer(const RecordRef& rec) {
  const std::uint64_t h = rec->id_hash();
  const std::string_view id = rec->client_id();
  Stripe& s = stripe_of(stripes_, h);
  const Record* replaced = nullptr;
  {
    std::lock_guard lock(s.mu);
    // Keep the load factor at or below 3/4.
    if ((s.used + 1) * 4 > s.slots.size() * 3) grow(s);
    const std::size_t mask = s.slots.size() - 1;
    std::size_t i = (h >> 8) & mask;
    for (;; i = (i + 1) & mask) {
      Slot& slot = s.slots[i];
      if (!slot.rec) {
        slot.hash = h;
        slot.rec = RecordRef(rec).leak();
        ++s.used;
        size_.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      if (slot.hash == h && slot.rec->client_id() == id) {
        if (!is_newer(*rec, *slot.rec)) return false;
        replaced = slot.rec;
        slot.rec = RecordRef(rec).leak();
        break;
      }
    }
  }
  RecordRef::adopt(replaced);  // freed outside the lock
  return true;
}

RecordRef ClientTable::find(std::string_view client_id) const {
  const std::uint64_t h = hash_client_id(client_id);
  Stripe& s = stripe_of(stripes_, h);
  std::lock_guard lock(s.mu);
  if (s.slots.empty()) return {};
  const std::size_t mask = s.slots.size() - 1;
  for (std::size_t i = (h >> 8) & mask;; i = (i + 1) & mask) {
    const Slot& slot = s.slots[i];
    if (!slot.rec) return {};
    if (slot.hash == h && slot.rec->client_id() == client_id) return RecordRef::share(slot.rec);
  }
}

bool ClientTable::snapshot_stripe(std::size_t stripe, StripeCursor& cursor, std::size_t max_records,
                                  std::vector<RecordRef>& out) const {
  const Stripe& s = stripes_[stripe];
  std::lock_guard lock(s.mu);
  if (cursor.generation != s.generation) cursor = StripeCursor{0, s.generation};
  std::size_t taken = 0;
  for (; cursor.slot < s.slots.size() && taken < max_records; ++cursor.slot) {
    const Slot& slot = s.slots[cursor.slot];
    if (slot.rec) {
      out.push_back(RecordRef::share(slot.rec));
      ++taken;
    }
  }
  return cursor.slot == s.slots.size();
}

}  // namespace herd
