#pragma once
// Keeps a connection's replies in request order when some complete later than others
// (PROTOCOL.md section 2). Pure; one queue belongs to one connection and one thread.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace herd {

class ReplyQueue {
 public:
  using Slot = std::uint64_t;

  // Appends a reply that is complete now. Goes straight to the ready bytes when no
  // earlier reply is still pending.
  void append(std::string_view text) {
    if (pending_.empty()) {
      ready_.append(text);
    } else {
      pending_.push_back(Entry{next_++, true, std::string(text)});
    }
  }
  // Reserves the place of a reply that will be filled later.
  Slot reserve() {
    pending_.push_back(Entry{next_, false, {}});
    return next_++;
  }

  // Fills a reserved slot; replies now at the head of the queue move to the ready bytes.
  // Returns false if the slot is unknown.
  bool fill(Slot slot, std::string_view text) {
    for (auto& e : pending_) {
      if (e.slot == slot && !e.done) {
        e.text.assign(text);
        e.done = true;
        while (!pending_.empty() && pending_.front().done) {
          ready_.append(pending_.front().text);
          pending_.pop_front();
        }
        return true;
      }
    }
    return false;
  }

  // Moves the ready bytes out (swapping buffers so capacity is reused).
  void take_ready(std::string& out) {
    out.clear();
    out.swap(ready_);
  }

  bool has_ready() const { return !ready_.empty(); }
  std::size_t ready_size() const { return ready_.size(); }
  bool has_pending() const { return !pending_.empty(); }
  bool empty() const { return ready_.empty() && pending_.empty(); }

 private:
  struct Entry {
    Slot slot;
    bool done;
    std::string text;
  };
  std::string ready_;
  std::deque<Entry> pending_;
  Slot next_ = 0;
};

}  // namespace herd
