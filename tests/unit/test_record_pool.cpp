// The record pool: aligned, independent blocks of every size; freed blocks reused,
// from any thread, also after the thread that cached them ended.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "core/record.hpp"
#include "core/record_pool.hpp"

using namespace herd;

namespace {
struct Block {
  void* p;
  std::size_t bytes;
};
void fill(const Block& b, unsigned seed) {
  std::memset(b.p, static_cast<int>((seed * 131 + b.bytes) & 0xff), b.bytes);
}
bool intact(const Block& b, unsigned seed) {
  const auto* c = static_cast<const unsigned char*>(b.p);
  for (std::size_t i = 0; i < b.bytes; ++i)
    if (c[i] != ((seed * 131 + b.bytes) & 0xff)) return false;
  return true;
}
}  // namespace

TEST_CASE("record pool: blocks of every size are 8-byte aligned and independent") {
  std::vector<Block> blocks;
  for (unsigned round = 0; round < 3; ++round) {
    for (std::size_t bytes = 1; bytes <= 700; bytes += 3) {
      Block b{record_pool::allocate(bytes), bytes};
      CHECK(reinterpret_cast<std::uintptr_t>(b.p) % 8 == 0);
      fill(b, static_cast<unsigned>(blocks.size()));
      blocks.push_back(b);
    }
  }
  for (std::size_t i = 0; i < blocks.size(); ++i)
    CHECK(intact(blocks[i], static_cast<unsigned>(i)));
  for (const Block& b : blocks) record_pool::deallocate(b.p, b.bytes);
}

TEST_CASE("record pool: freed blocks are reused, whichever thread freed them") {
  constexpr std::size_t kBlocks = 200000;
  auto churn = [] {
    std::vector<void*> made(kBlocks);
    for (auto& p : made) p = record_pool::allocate(96);
    return made;
  };
  std::vector<void*> first = churn();
  const std::size_t reserved = record_pool::reserved_bytes();
  if (reserved == 0) {  // an AddressSanitizer build: every block is operator new's
    for (void* p : first) record_pool::deallocate(p, 96);
    return;
  }
  CHECK(reserved >= kBlocks * 96);
  // Freed on other threads, which then end (their caches go back to the pool) ...
  std::thread a([&] {
    for (std::size_t i = 0; i < kBlocks / 2; ++i) record_pool::deallocate(first[i], 96);
  });
  std::thread b([&] {
    for (std::size_t i = kBlocks / 2; i < kBlocks; ++i) record_pool::deallocate(first[i], 96);
  });
  a.join();
  b.join();
  // ... and allocated again here and on another thread: no new region is needed.
  std::vector<void*> second;
  std::thread c([&] { second = churn(); });
  c.join();
  CHECK(record_pool::reserved_bytes() == reserved);
  for (void* p : second) record_pool::deallocate(p, 96);
}

TEST_CASE("records of every length are aligned and whole") {
  for (std::size_t len : {1u, 30u, 31u, 32u, 33u, 100u, 255u, 256u}) {
    const std::string line = "IAMAT " + std::string(len, 'x') + " +1+2 5.5";
    Message m = parse_message(line);
    REQUIRE(m.kind == MessageKind::iamat);
    RecordRef r = RecordRef::from_iamat("Ball", {6, 0}, m);
    CHECK(reinterpret_cast<std::uintptr_t>(r.get()) % 8 == 0);
    CHECK(r->client_id() == std::string(len, 'x'));
    RecordRef shared = r;
    r = RecordRef();
    CHECK(shared->line_nl().back() == '\n');
  }
}
