// Line framing (PROTOCOL.md section 2).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/fields.hpp"
#include "core/line_splitter.hpp"

using namespace herd;

namespace {
struct Collect {
  std::vector<std::string> lines;
  FeedResult feed(LineSplitter& s, const std::string& chunk) {
    return s.feed(chunk.data(), chunk.size(), [this](std::string_view l) {
      lines.emplace_back(l);
      return true;
    });
  }
};
}  // namespace

TEST_CASE("lines split on LF, CR before LF dropped, partial kept across chunks") {
  LineSplitter s(100);
  Collect c;
  CHECK(c.feed(s, "a\nb\r\nc") == FeedResult::ok);
  CHECK(c.lines == std::vector<std::string>{"a", "b"});
  CHECK(c.feed(s, "d\r") == FeedResult::ok);
  CHECK(c.feed(s, "\ne\n\n") == FeedResult::ok);
  CHECK(c.lines == std::vector<std::string>{"a", "b", "cd", "e", ""});
  CHECK_FALSE(s.has_partial());
}

TEST_CASE("byte-at-a-time input gives the same lines") {
  const std::string input = "IAMAT a +0+0 1\r\nWHATSAT a 1 1\n\r\nx\ry\n";
  LineSplitter s(100);
  Collect c;
  for (char ch : input) c.feed(s, std::string(1, ch));
  CHECK(c.lines == std::vector<std::string>{"IAMAT a +0+0 1", "WHATSAT a 1 1", "", "x\ry"});
}

TEST_CASE("a final unterminated line is handed over by finish") {
  LineSplitter s(100);
  Collect c;
  c.feed(s, "one\ntwo");
  std::vector<std::string> last;
  CHECK(s.finish([&](std::string_view l) {
    last.emplace_back(l);
    return true;
  }));
  CHECK(last == std::vector<std::string>{"two"});
  CHECK(s.finish([](std::string_view) { return true; }));  // nothing left
}

TEST_CASE("line length limit: exactly max is fine, max+1 is too long, terminator not counted") {
  const std::size_t max = 16;
  {
    LineSplitter s(max);
    Collect c;
    CHECK(c.feed(s, std::string(max, 'x') + "\r\n") == FeedResult::ok);
    CHECK(c.lines.size() == 1);
  }
  {
    LineSplitter s(max);
    Collect c;
    CHECK(c.feed(s, "ok\n" + std::string(max + 1, 'x') + "\n") == FeedResult::too_long);
    CHECK(c.lines == std::vector<std::string>{"ok"});
  }
  {  // too long detected before the newline arrives, across chunks
    LineSplitter s(max);
    Collect c;
    CHECK(c.feed(s, std::string(10, 'x')) == FeedResult::ok);
    CHECK(c.feed(s, std::string(7, 'x')) == FeedResult::too_long);
  }
  {  // a CR at the limit may still be the terminator
    LineSplitter s(max);
    Collect c;
    CHECK(c.feed(s, std::string(max, 'x') + "\r") == FeedResult::ok);
    CHECK(c.feed(s, "\n") == FeedResult::ok);
    CHECK(c.lines.size() == 1);
  }
}

TEST_CASE("the callback can stop the splitter") {
  LineSplitter s(100);
  int n = 0;
  std::string in = "a\nb\nc\n";
  CHECK(s.feed(in.data(), in.size(), [&](std::string_view) { return ++n < 2; }) ==
        FeedResult::stopped);
  CHECK(n == 2);
}

TEST_CASE("fields split on every white-space byte") {
  auto f = split_fields<4>(" a\tb\r\nc\fd\ve ");
  CHECK(f.count == 5);
  CHECK(f.field[0] == "a");
  CHECK(f.field[3] == "d");
  CHECK(trim(" \t x y \r") == "x y");
}

TEST_CASE("fields: the block-wise split agrees with the bytewise one at every length") {
  // White space, its neighbours (0x08, 0x0e, 0x1f, 0x21), bytes read as negative by a
  // signed compare, and text; lines from empty to several 64-byte blocks.
  const char alphabet[] = {' ',    '\t',   '\n',   '\v',   '\f',   '\r',   '\x08', '\x0e', '\x1f',
                           '\x21', '\x7f', '\x80', '\x85', '\xa0', '\xff', 'a',    'Z',    '0'};
  std::uint64_t state = 42;
  auto next = [&state] {
    state = state * 6364136223846793005u + 1442695040888963407u;
    return static_cast<unsigned>(state >> 33);
  };
  for (int round = 0; round < 4000; ++round) {
    const std::size_t len = round < 300 ? static_cast<std::size_t>(round) : next() % 300;
    const unsigned spaces = next() % 4;  // how often a byte is white space
    std::string line;
    for (std::size_t i = 0; i < len; ++i) {
      const unsigned r = next();
      line.push_back(r % 4 < spaces ? alphabet[(r >> 4) % 6]
                                    : alphabet[(r >> 4) % sizeof alphabet]);
    }
    CAPTURE(line);
    const auto fast = split_fields<6>(line);
    const auto slow = split_fields_bytewise<6>(line);
    REQUIRE(fast.count == slow.count);
    for (std::size_t k = 0; k < 6; ++k) {
      CHECK(fast.field[k].data() == slow.field[k].data());
      CHECK(fast.field[k].size() == slow.field[k].size());
    }
  }
}
