#include "core/byte_chain.hpp"

#include <algorithm>
#include <cstring>

namespace herd {

constexpr std::size_t kBlock = BlockPool::kBlockBytes;

BlockPool::~BlockPool() {
  for (char* b : free_) delete[] b;
}

char* BlockPool::get() {
  ++out_;
  if (free_.empty()) return new char[kBlock];
  char* b = free_.back();
  free_.pop_back();
  return b;
}

void BlockPool::put(char* block) {
  --out_;
  if (free_.size() < keep_) {
    free_.push_back(block);
  } else {
    delete[] block;
  }
}

ByteChain::~ByteChain() {
  for (std::size_t i = front_; i < blocks_.size(); ++i) pool_.put(blocks_[i]);
}

void ByteChain::append(std::string_view text) {
  appended_ += text.size();
  while (!text.empty()) {
    if (blocks() == 0 || tail_used_ == kBlock) {
      blocks_.push_back(pool_.get());
      tail_used_ = 0;
    }
    const std::size_t n = std::min(text.size(), kBlock - tail_used_);
    std::memcpy(blocks_.back() + tail_used_, text.data(), n);
    tail_used_ += n;
    text.remove_prefix(n);
  }
}

void ByteChain::views(std::uint64_t from, std::uint64_t to,
                      std::vector<std::string_view>& out) const {
  if (from >= to) return;
  // Block front_ + i holds the absolute positions base + i * kBlock onwards.
  const std::uint64_t base = consumed_ - head_off_;
  std::size_t i = front_ + static_cast<std::size_t>((from - base) / kBlock);
  std::size_t off = static_cast<std::size_t>((from - base) % kBlock);
  std::uint64_t left = to - from;
  while (left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBlock - off));
    out.emplace_back(blocks_[i] + off, n);
    left -= n;
    ++i;
    off = 0;
  }
}

void ByteChain::consume(std::size_t n) {
  consumed_ += n;
  head_off_ += n;
  while (blocks() > 0 && (head_off_ >= kBlock || consumed_ == appended_)) {
    if (head_off_ < kBlock) {  // everything consumed: the last block goes too
      head_off_ = 0;
      tail_used_ = 0;
    } else {
      head_off_ -= kBlock;
    }
    pool_.put(blocks_[front_++]);
  }
  if (front_ == blocks_.size()) {
    blocks_.clear();
    front_ = 0;
  } else if (front_ >= 64 && front_ * 2 >= blocks_.size()) {
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(front_));
    front_ = 0;
  }
}

}  // namespace herd
