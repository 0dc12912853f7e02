#pragma once
// Bytes held in fixed-size blocks: appending never reallocates or copies earlier bytes,
// the memory held is within two blocks of the bytes held (no doubling, and blocks of one
// size are reused by the allocator without fragmentation), and bytes are consumed from
// the front. Blocks come from and go back to a BlockPool. Pure; one thread.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace herd {

// Free blocks of one size, kept (up to keep_free) for the next chain that needs one.
class BlockPool {
 public:
  static constexpr std::size_t kBlockBytes = 16 * 1024;

  explicit BlockPool(std::size_t keep_free = 256) : keep_(keep_free) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  char* get();
  void put(char* block);
  // Blocks handed out and not yet put back (a leak check for tests).
  std::size_t blocks_out() const { return out_; }
  std::size_t blocks_free() const { return free_.size(); }

 private:
  std::vector<char*> free_;
  std::size_t keep_;
  std::size_t out_ = 0;
};

class ByteChain {
 public:
  explicit ByteChain(BlockPool& pool) : pool_(pool) {}
  ~ByteChain();  // returns every block to the pool
  ByteChain(const ByteChain&) = delete;
  ByteChain& operator=(const ByteChain&) = delete;

  void append(std::string_view text);
  // Absolute positions: bytes ever consumed, and ever appended.
  std::uint64_t begin_pos() const { return consumed_; }
  std::uint64_t end_pos() const { return appended_; }
  std::size_t size() const { return static_cast<std::size_t>(appended_ - consumed_); }
  // Appends to out views of the bytes at absolute positions [from, to), which must be
  // held (begin_pos() <= from <= to <= end_pos()); they stay valid until consumed.
  void views(std::uint64_t from, std::uint64_t to, std::vector<std::string_view>& out) const;
  // Drops the first n bytes (n <= size()); blocks left empty go back to the pool, so an
  // empty chain holds none.
  void consume(std::size_t n);
  std::size_t blocks() const { return blocks_.size() - front_; }

 private:
  BlockPool& pool_;
  std::vector<char*> blocks_;  // blocks_[front_ ..] are held; all full but the last
  std::size_t front_ = 0;
  std::size_t head_off_ = 0;   // consumed bytes of the first held block
  std::size_t tail_used_ = 0;  // used bytes of the last held block
  std::uint64_t consumed_ = 0;
  std::uint64_t appended_ = 0;
};

}  // namespace herd
