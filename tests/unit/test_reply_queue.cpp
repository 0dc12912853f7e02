// Replies in request order whatever completes first (PROTOCOL.md section 2), held in
// fixed-size blocks (section 10: memory follows the bytes owed).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/byte_chain.hpp"
#include "core/reply_queue.hpp"

using herd::BlockPool;
using herd::ByteChain;
using herd::ReplyQueue;

namespace {

constexpr std::size_t kBlock = BlockPool::kBlockBytes;

// Takes every ready reply as one string, then releases it (as a completed write does).
std::string take(ReplyQueue& q) {
  std::vector<std::string_view> parts;
  const std::size_t n = q.take_ready(parts);
  std::string out;
  for (auto p : parts) out.append(p);
  CHECK(out.size() == n);
  q.release_taken();
  q.written(n);
  return out;
}

std::string pattern(std::size_t n, std::size_t seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

}  // namespace

TEST_CASE("replies complete out of order but come out in request order") {
  BlockPool pool;
  ReplyQueue q(pool);
  q.append("1\n");
  auto s2 = q.reserve();
  q.append("3\n");
  auto s4 = q.reserve();
  CHECK(take(q) == "1\n");
  CHECK(q.fill(s4, "4\n"));
  CHECK_FALSE(q.has_ready());
  CHECK(q.has_pending());
  CHECK(q.fill(s2, "2\n"));
  CHECK(q.has_ready());
  CHECK(take(q) == "2\n3\n4\n");
  CHECK(q.empty());
  CHECK(q.owed_bytes() == 0);
  CHECK_FALSE(q.fill(s2, "again"));
  CHECK_FALSE(q.fill(s4 + 1, "unknown"));
}

TEST_CASE("a reply filled at once keeps its place") {
  BlockPool pool;
  ReplyQueue q(pool);
  auto s = q.reserve();
  CHECK(q.fill(s, "a"));
  q.append("b");
  CHECK(take(q) == "ab");
  CHECK(q.empty());
}

TEST_CASE("a reply filled with nothing still leaves the queue, so the connection can close") {
  BlockPool pool;
  ReplyQueue q(pool);
  auto s = q.reserve();
  CHECK(q.fill(s, ""));
  CHECK(q.has_ready());
  CHECK(take(q).empty());
  CHECK(q.empty());
}

TEST_CASE("bytes taken stay put while more replies arrive, and only they are released") {
  BlockPool pool;
  ReplyQueue q(pool);
  const std::string big = pattern(3 * kBlock + 100, 1);
  q.append(big);
  std::vector<std::string_view> parts;
  REQUIRE(q.take_ready(parts) == big.size());
  CHECK(parts.size() == 4);  // the blocks, not a copy
  // A write is in flight: later replies (at once or after a lookup) wait behind it.
  q.append("x\n");
  auto slot = q.reserve();
  q.append("z\n");
  CHECK(q.has_ready());
  std::vector<std::string_view> again;
  CHECK(q.take_ready(again) == 0);  // one take at a time
  CHECK(again.empty());
  std::string got;
  for (auto p : parts) got.append(p);
  CHECK(got == big);
  q.release_taken();
  q.written(big.size());
  CHECK(take(q) == "x\n");
  CHECK(q.fill(slot, "y\n"));
  CHECK(take(q) == "y\nz\n");
  CHECK(q.empty());
  CHECK(q.owed_bytes() == 0);
  CHECK(pool.blocks_out() == 0);
}

TEST_CASE("memory follows the bytes held: no doubling, and an emptied queue holds no block") {
  BlockPool pool;
  {
    ReplyQueue q(pool);
    std::size_t total = 0;
    for (std::size_t i = 0; total < 4 * 1024 * 1024; ++i) {
      const std::string r = pattern(100 + i % 5000, i);
      q.append(r);
      total += r.size();
      CHECK(pool.blocks_out() * kBlock < total + kBlock + 1);
    }
    CHECK(q.owed_bytes() == total);
    take(q);
    CHECK(pool.blocks_out() == 0);
    CHECK(pool.blocks_free() > 0);  // kept for the next burst
    q.append("kept until the queue goes\n");
    CHECK(pool.blocks_out() == 1);
  }
  CHECK(pool.blocks_out() == 0);  // the destructor gave it back
}

TEST_CASE("a pool keeps at most keep_free blocks") {
  BlockPool pool(2);
  char* a = pool.get();
  char* b = pool.get();
  char* c = pool.get();
  CHECK(pool.blocks_out() == 3);
  pool.put(a);
  pool.put(b);
  pool.put(c);
  CHECK(pool.blocks_out() == 0);
  CHECK(pool.blocks_free() == 2);
}

TEST_CASE("a byte chain hands out exact views across block edges and consumes from the front") {
  BlockPool pool;
  ByteChain c(pool);
  std::string all;
  for (std::size_t i = 0; i < 50; ++i) {
    const std::string piece = pattern(i * 997 % 40000, i);
    c.append(piece);
    all += piece;
  }
  REQUIRE(c.size() == all.size());
  std::size_t eaten = 0;
  for (std::size_t step : {std::size_t{1}, kBlock - 1, std::size_t{1}, kBlock, 3 * kBlock + 7}) {
    // Any window of what is held reads back exactly.
    for (std::size_t from : {eaten, eaten + 5, eaten + kBlock + 3}) {
      for (std::size_t len : {std::size_t{0}, std::size_t{1}, kBlock, 2 * kBlock + 9}) {
        if (from + len > all.size()) continue;
        std::vector<std::string_view> v;
        c.views(from, from + len, v);
        std::string got;
        for (auto p : v) {
          CHECK(p.size() <= kBlock);
          got.append(p);
        }
        CHECK(got == all.substr(from, len));
      }
    }
    c.consume(step);
    eaten += step;
    CHECK(c.begin_pos() == eaten);
    CHECK(c.blocks() <= (c.size() + 2 * kBlock - 1) / kBlock + 1);
  }
  c.consume(c.size());
  CHECK(c.blocks() == 0);
  CHECK(pool.blocks_out() == 0);
  c.append("again");
  std::vector<std::string_view> v;
  c.views(c.begin_pos(), c.end_pos(), v);
  REQUIRE(v.size() == 1);
  CHECK(v[0] == "again");
}
