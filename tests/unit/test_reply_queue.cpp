// Replies in request order whatever completes first (PROTOCOL.md section 2).
#include <doctest/doctest.h>

#include <string>

#include "core/reply_queue.hpp"

using herd::ReplyQueue;

TEST_CASE("replies complete out of order but come out in request order") {
  ReplyQueue q;
  std::string out;
  q.append("1\n");
  auto s2 = q.reserve();
  q.append("3\n");
  auto s4 = q.reserve();
  q.take_ready(out);
  CHECK(out == "1\n");
  CHECK(q.fill(s4, "4\n"));
  CHECK_FALSE(q.has_ready());
  CHECK(q.has_pending());
  CHECK(q.fill(s2, "2\n"));
  q.take_ready(out);
  CHECK(out == "2\n3\n4\n");
  CHECK(q.empty());
  CHECK_FALSE(q.fill(s2, "again"));
}

TEST_CASE("a reply filled at once keeps its place") {
  ReplyQueue q;
  auto s = q.reserve();
  CHECK(q.fill(s, "a"));
  q.append("b");
  std::string out;
  q.take_ready(out);
  CHECK(out == "ab");
}
