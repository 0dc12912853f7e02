// Records, the ordering rule (PROTOCOL.md section 3) and the striped client table.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/client_table.hpp"
#include "core/record.hpp"

using namespace herd;

namespace {
RecordRef at(const std::string& line) {
  Message m = parse_message(line);
  REQUIRE(m.kind == MessageKind::at);
  return RecordRef::from_at_line(line, m);
}
}  // namespace

TEST_CASE("an IAMAT record is the AT line with the exact fields copied") {
  std::string line = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
  Message m = parse_message(line);
  RecordRef r = RecordRef::from_iamat("Alford", {1621464828, 223371889}, m);
  CHECK(r->line() ==
        "AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503");
  CHECK(r->line_nl().back() == '\n');
  CHECK(r->client_id() == "kiwi.cs.ucla.edu");
  CHECK(r->location_text() == "+34.068930-118.445127");
  CHECK(r->client_time() == Timestamp{1621464827, 959498503});
  CHECK(r->id_hash() == hash_client_id("kiwi.cs.ucla.edu"));
}

TEST_CASE("ordering: newer client time wins, ties go to the bytewise greater line") {
  auto a = at("AT Alford +0.100000000 c +0+0 10.5");
  auto b = at("AT Ball +0.100000000 c +0+0 10.500000000");
  auto older = at("AT Welsh +9.000000000 c +0+0 10.4999999999");
  CHECK(is_newer(*a, *older));
  CHECK_FALSE(is_newer(*older, *a));
  // Same time (10.5 == 10.500000000): "AT Ball" > "AT Alford".
  CHECK(is_newer(*b, *a));
  CHECK_FALSE(is_newer(*a, *b));
  CHECK_FALSE(is_newer(*a, *a));
  // Digits past the ninth are ignored when comparing.
  auto c1 = at("AT Alford +0.100000000 c +0+0 1.0000000001");
  auto c2 = at("AT Alford +0.100000000 c +0+0 1.0000000009");
  CHECK(c1->client_time() == c2->client_time());
  CHECK(is_newer(*c2, *c1));  // tie broken by the line bytes
}

TEST_CASE("table: offer stores only newer records; find returns them") {
  ClientTable t;
  CHECK_FALSE(t.find("c"));
  CHECK(t.offer(at("AT Alford +0.100000000 c +0+0 10")));
  CHECK_FALSE(t.offer(at("AT Alford +0.100000000 c +0+0 9")));
  CHECK_FALSE(t.offer(at("AT Alford +0.100000000 c +0+0 10")));  // equal: not stored
  CHECK(t.offer(at("AT Ball +0.100000000 c +0+0 10")));          // tie, greater line
  CHECK(t.find("c")->line() == "AT Ball +0.100000000 c +0+0 10");
  CHECK(t.offer(at("AT Alford +0.100000000 c +1+1 11")));
  CHECK(t.find("c")->location_text() == "+1+1");
  CHECK(t.size() == 1);
  for (int i = 0; i < 5000; ++i)
    CHECK(t.offer(at("AT A +0.000000000 id" + std::to_string(i) + " +0+0 1")));
  CHECK(t.size() == 5001);
  for (int i = 0; i < 5000; i += 97)
    CHECK(t.find("id" + std::to_string(i))->client_id() == "id" + std::to_string(i));
  std::size_t total = 0;
  for (std::size_t s = 0; s < ClientTable::kStripes; ++s) {
    std::vector<RecordRef> out;
    ClientTable::StripeCursor cur;
    while (!t.snapshot_stripe(s, cur, 1000, out)) {
    }
    total += out.size();
  }
  CHECK(total == 5001);
}

TEST_CASE("table hammer: threads racing on shared clients converge to the newest record") {
  constexpr int kThreads = 6, kClients = 300, kRounds = 40;
  // Thread th's stream of offers; each_offer(client, record) is called for every one.
  auto stream = [](int th, auto&& each_offer) {
    std::mt19937 rng(static_cast<unsigned>(th));
    for (int r = 0; r < kRounds; ++r) {
      for (int c = 0; c < kClients; ++c) {
        const int when = static_cast<int>(rng() % 1000);
        const std::string line = "AT S" + std::to_string(th) + " +0.000000000 client" +
                                 std::to_string(c) + " +0+0 " + std::to_string(when);
        each_offer(c, RecordRef::from_at_line(line, parse_message(line)));
      }
    }
  };
  ClientTable t;
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&t, &stream, th] {
      stream(th, [&t](int c, const RecordRef& rec) {
        t.offer(rec);
        RecordRef got = t.find("client" + std::to_string(c));
        if (!got || got->client_id() != "client" + std::to_string(c)) FAIL("lost a record");
      });
    });
  }
  for (auto& th : threads) th.join();
  CHECK(t.size() == kClients);
  // Replay the same streams sequentially: the winner must be the same record.
  ClientTable expect;
  for (int th = 0; th < kThreads; ++th)
    stream(th, [&expect](int, const RecordRef& rec) { expect.offer(rec); });
  for (int c = 0; c < kClients; ++c) {
    std::string id = "client" + std::to_string(c);
    CHECK(t.find(id)->line() == expect.find(id)->line());
  }
}
