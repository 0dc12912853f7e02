#pragma once
// Keeps a connection's replies in request order when some complete later than others
// (PROTOCOL.md section 2), and counts the bytes owed, for back-pressure (section 10).
// Replies complete at once are copied into one ByteChain, in order; a reply that
// completes later keeps its own string and its place (the chain position it was
// reserved at). Memory stays within two blocks of the bytes held, plus one string per
// reply reserved. Pure; one queue belongs to one connection and one thread.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_chain.hpp"

namespace herd {

class ReplyQueue {
 public:
  using Slot = std::uint64_t;

  explicit ReplyQueue(BlockPool& pool) : chain_(pool) {}

  // Appends a reply that is complete now, behind every earlier one. O(length).
  void append(std::string_view text);
  // Reserves the place of a reply that will be filled later. O(1).
  Slot reserve();
  // Fills a reserved slot. Returns false if the slot is unknown or already filled.
  // O(1), plus the slots that become ready if it was the first one waiting.
  bool fill(Slot slot, std::string text);

  // Appends to parts views of every ready byte (those before the first reply still
  // waiting), in order, and returns their count. They stay in the queue, valid, until
  // release_taken(); one take at a time (nothing is taken again before the release).
  std::size_t take_ready(std::vector<std::string_view>& parts);
  // Drops the bytes of the last take (written, copied or given up).
  void release_taken();
  // n reply bytes left for the peer: they are no longer owed.
  void written(std::size_t n) { owed_ -= n; }

  // Ready replies not taken yet.
  bool has_ready() const { return ready_ > taken_bytes_ || first_pending_ > taken_slots_; }
  bool has_pending() const { return first_pending_ < slots_.size(); }
  bool empty() const { return chain_.size() == 0 && slots_.empty(); }
  // Bytes of every reply that is complete but not yet written: ready, taken and being
  // written, or waiting behind a pending reply.
  std::size_t owed_bytes() const { return owed_; }

 private:
  struct Entry {
    std::uint64_t at = 0;  // chain position of this reply: it goes before the bytes from there
    bool done = false;
    std::string text;  // this reply, once filled
  };
  void advance();

  ByteChain chain_;
  std::deque<Entry> slots_;        // slots first_id_ .. , in order
  Slot first_id_ = 0;              // id of slots_.front()
  std::size_t first_pending_ = 0;  // index in slots_ of the first reply not filled
  std::size_t ready_ = 0;          // bytes before slots_[first_pending_] (or all), held
  std::size_t owed_ = 0;
  // The last take: chain bytes, slots and bytes it covers.
  std::size_t taken_chain_ = 0;
  std::size_t taken_slots_ = 0;
  std::size_t taken_bytes_ = 0;
};

}  // namespace herd
