#pragma once
// Keeps a connection's replies in request order when some complete later than others
// (PROTOCOL.md section 2), and counts the bytes owed, for back-pressure (section 10).
// Pure; one queue belongs to one connection and one thread.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace herd {

class ReplyQueue {
 public:
  using Slot = std::uint64_t;

  // Appends a reply that is complete now: straight to the ready bytes when no earlier
  // reply is still pending, else behind the last pending one. O(length).
  void append(std::string_view text) {
    if (pending_.empty()) {
      ready_.append(text);
    } else {
      pending_.back().after.append(text);
    }
    owed_ += text.size();
  }

  // Reserves the place of a reply that will be filled later. O(1).
  Slot reserve() {
    pending_.emplace_back();
    return next_++;
  }

  // Fills a reserved slot; replies now at the head of the queue move to the ready bytes.
  // Returns false if the slot is unknown or already filled. O(1) plus the bytes moved.
  bool fill(Slot slot, std::string_view text) {
    if (slot < first_ || slot >= next_) return false;
    Entry& e = pending_[static_cast<std::size_t>(slot - first_)];
    if (e.done) return false;
    e.text.assign(text);
    e.done = true;
    owed_ += text.size();
    while (!pending_.empty() && pending_.front().done) {
      ready_.append(pending_.front().text);
      ready_.append(pending_.front().after);
      pending_.pop_front();
      ++first_;
    }
    return true;
  }

  // Moves the ready bytes out (swapping buffers so capacity is reused). The bytes stay
  // owed until written(n) says they left.
  void take_ready(std::string& out) {
    out.clear();
    out.swap(ready_);
  }
  // n bytes taken with take_ready were written (or dropped).
  void written(std::size_t n) { owed_ -= n; }

  bool has_ready() const { return !ready_.empty(); }
  bool has_pending() const { return !pending_.empty(); }
  bool empty() const { return ready_.empty() && pending_.empty(); }
  // Bytes of every reply that is complete but not yet written: ready, taken and being
  // written, or waiting behind a pending reply.
  std::size_t owed_bytes() const { return owed_; }

 private:
  struct Entry {
    bool done = false;
    std::string text;   // this reply, once filled
    std::string after;  // complete replies appended after this one, before the next slot
  };
  std::string ready_;
  std::deque<Entry> pending_;  // slots first_ .. next_-1, in order
  Slot first_ = 0;
  Slot next_ = 0;
  std::size_t owed_ = 0;
};

}  // namespace herd
