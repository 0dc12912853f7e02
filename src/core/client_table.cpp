#include "core/client_table.hpp"

#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace herd {

void ClientTable::Slot::set(const Record* r, std::uint64_t hash) {
  const auto p = reinterpret_cast<std::uint64_t>(r);
  if ((p & 7) != 0 || (p >> (kPtrBits + 3)) != 0) {
    std::fputs(
        "herd: a record's address is not 8-byte aligned below 2^48; the client table "
        "cannot pack it\n",
        stderr);
    std::abort();
  }
  bits = (p >> 3) | (frag_of(hash) << kPtrBits);
}

ClientTable::~ClientTable() {
  for (auto& s : stripes_) {
    for (auto& slot : s.slots) {
      if (!slot.empty()) RecordRef::adopt(slot.rec());  // releases the table's reference
    }
  }
}

std::size_t ClientTable::home(std::uint64_t frag, std::size_t size) {
  return static_cast<std::size_t>((frag * size) >> Slot::kFragBits);
}

void ClientTable::grow(Stripe& s) {
  // Half as large again: the load stays between 8/15 and 4/5 (about 12 bytes of slots per
  // client). Homes come from the stored hash fragments: no record is read.
  std::vector<Slot> old;
  old.swap(s.slots);
  s.slots.assign(old.empty() ? 16 : old.size() + old.size() / 2, Slot{});
  ++s.generation;
  const std::size_t n = s.slots.size();
  for (const Slot& o : old) {
    if (o.empty()) continue;
    std::size_t i = home(o.frag(), n);
    while (!s.slots[i].empty()) i = i + 1 == n ? 0 : i + 1;
    s.slots[i] = o;
  }
  s.base.store(reinterpret_cast<std::uintptr_t>(s.slots.data()), std::memory_order_relaxed);
  s.nslots.store(n, std::memory_order_relaxed);
}

void ClientTable::prefetch_slots(std::uint64_t hash) const {
  const Stripe& s = stripe_of(stripes_, hash);
  const std::size_t n = s.nslots.load(std::memory_order_relaxed);
  if (n == 0) return;
  const std::uintptr_t at =
      s.base.load(std::memory_order_relaxed) + home(Slot::frag_of(hash), n) * sizeof(Slot);
  __builtin_prefetch(reinterpret_cast<const void*>(at));
}

void ClientTable::prefetch_record(std::uint64_t hash) const {
  const std::uint64_t frag = Slot::frag_of(hash);
  Stripe& s = stripe_of(stripes_, hash);
  std::lock_guard lock(s.mu);
  const std::size_t n = s.slots.size();
  if (n == 0) return;
  for (std::size_t i = home(frag, n);; i = i + 1 == n ? 0 : i + 1) {
    const Slot& slot = s.slots[i];
    if (slot.empty()) return;
    if (slot.frag() == frag) {
      // Its client id (first line) and its time (the line's end, often the second).
      const char* r = reinterpret_cast<const char*>(slot.rec());
      __builtin_prefetch(r);
      __builtin_prefetch(r + 64);
      return;
    }
  }
}

bool ClientTable::offer(const RecordRef& rec, const std::uint64_t h, const Timestamp time) {
  const std::string_view id = rec->client_id();
  assert(h == hash_client_id(id) && time == rec->client_time());
  const std::uint64_t frag = Slot::frag_of(h);
  Stripe& s = stripe_of(stripes_, h);
  const Record* replaced = nullptr;
  {
    std::lock_guard lock(s.mu);
    // Keep the load factor at or below 4/5.
    if ((s.used + 1) * 5 > s.slots.size() * 4) grow(s);
    const std::size_t n = s.slots.size();
    for (std::size_t i = home(frag, n);; i = i + 1 == n ? 0 : i + 1) {
      Slot& slot = s.slots[i];
      if (slot.empty()) {
        slot.set(RecordRef(rec).leak(), h);
        ++s.used;
        size_.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      if (slot.frag() == frag) {
        // Most likely the client's record: its time, at the line's end, is read next, so
        // its second cache line is asked for before the first is compared.
        __builtin_prefetch(reinterpret_cast<const char*>(slot.rec()) + 64);
      }
      if (slot.frag() == frag && slot.rec()->client_id() == id) {
        if (!is_newer(*rec, time, *slot.rec())) return false;
        replaced = slot.rec();
        slot.set(RecordRef(rec).leak(), h);
        break;
      }
    }
  }
  RecordRef::adopt(replaced);  // freed outside the lock
  return true;
}

RecordRef ClientTable::find(std::string_view client_id, const std::uint64_t h) const {
  const std::uint64_t frag = Slot::frag_of(h);
  Stripe& s = stripe_of(stripes_, h);
  std::lock_guard lock(s.mu);
  if (s.slots.empty()) return {};
  const std::size_t n = s.slots.size();
  for (std::size_t i = home(frag, n);; i = i + 1 == n ? 0 : i + 1) {
    const Slot& slot = s.slots[i];
    if (slot.empty()) return {};
    if (slot.frag() == frag && slot.rec()->client_id() == client_id)
      return RecordRef::share(slot.rec());
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
    if (!slot.empty()) {
      out.push_back(RecordRef::share(slot.rec()));
      ++taken;
    }
  }
  return cursor.slot == s.slots.size();
}

}  // namespace herd
