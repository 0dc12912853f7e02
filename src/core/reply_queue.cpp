#include "core/reply_queue.hpp"

#include <algorithm>
#include <utility>

namespace herd {

void ReplyQueue::append(std::string_view text) {
  chain_.append(text);
  owed_ += text.size();
  if (!has_pending()) ready_ += text.size();
}

ReplyQueue::Slot ReplyQueue::reserve() {
  Entry e;
  e.at = chain_.end_pos();
  slots_.push_back(std::move(e));
  return first_id_ + slots_.size() - 1;
}

bool ReplyQueue::fill(Slot slot, std::string text) {
  if (slot < first_id_ || slot - first_id_ >= slots_.size()) return false;
  const auto i = static_cast<std::size_t>(slot - first_id_);
  Entry& e = slots_[i];
  if (e.done) return false;
  e.done = true;
  e.text = std::move(text);
  owed_ += e.text.size();
  if (i == first_pending_) advance();
  return true;
}

void ReplyQueue::advance() {
  // ready_ counts the chain up to the first waiting slot; each filled one adds its text
  // and the chain bytes up to the next slot (or the end).
  while (first_pending_ < slots_.size() && slots_[first_pending_].done) {
    const Entry& e = slots_[first_pending_];
    const std::uint64_t next =
        first_pending_ + 1 < slots_.size() ? slots_[first_pending_ + 1].at : chain_.end_pos();
    ready_ += e.text.size() + static_cast<std::size_t>(next - e.at);
    ++first_pending_;
  }
}

std::size_t ReplyQueue::take_ready(std::vector<std::string_view>& parts) {
  if (taken_bytes_ != 0 || taken_slots_ != 0) return 0;  // the last take is not released
  std::uint64_t pos = chain_.begin_pos();
  const std::uint64_t start = pos;
  for (std::size_t i = 0; i < first_pending_; ++i) {
    const Entry& e = slots_[i];
    chain_.views(pos, e.at, parts);
    pos = std::max(pos, e.at);
    if (!e.text.empty()) parts.emplace_back(e.text);
  }
  const std::uint64_t end = has_pending() ? slots_[first_pending_].at : chain_.end_pos();
  chain_.views(pos, end, parts);
  pos = std::max(pos, end);
  taken_chain_ = static_cast<std::size_t>(pos - start);
  taken_slots_ = first_pending_;
  taken_bytes_ = ready_;
  return ready_;
}

void ReplyQueue::release_taken() {
  chain_.consume(taken_chain_);
  for (std::size_t i = 0; i < taken_slots_; ++i) slots_.pop_front();
  first_id_ += taken_slots_;
  first_pending_ -= taken_slots_;
  ready_ -= taken_bytes_;
  taken_chain_ = taken_slots_ = taken_bytes_ = 0;
}

}  // namespace herd
