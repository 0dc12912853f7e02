// Records, the ordering rule (PROTOCOL.md section 3) and the striped client table.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/client_table.hpp"
#include "core/id_lookahead.hpp"
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

TEST_CASE("the lookahead hashes each IAMAT and WHATSAT id of whole lines once, by address") {
  ClientTable table;
  for (int i = 0; i < 1000; ++i) {
    const std::string line = "IAMAT c" + std::to_string(i) + " +1+2 " + std::to_string(i) + ".5";
    Message m = parse_message(line);
    REQUIRE(table.offer(RecordRef::from_iamat("Ball", {100, 0}, m)));
  }
  IdLookahead la(table);
  const std::string input =
      "IAMAT c1 +1+2 5.5\nWHATSAT c2 10 5\nAT Ball +0.1 c3 +1+2 1.0\nIAMAT  c4 +1+2 1\n"
      "IAMAT c5 +1+2 6.5\nIAMAT c6 +1+2";
  la.scan(input);
  CHECK(la.scanned() == 3);  // c1, c2, c5: not the AT line, the double space, the partial line
  const std::string_view in(input);
  const std::string_view c1 = in.substr(in.find("c1"), 2), c2 = in.substr(in.find("c2"), 2),
                         c5 = in.substr(in.find("c5"), 2), c6 = in.substr(in.find("c6"), 2);
  CHECK(la.hash(c1) == hash_client_id("c1"));
  CHECK(la.reused() == 1);
  // An id from elsewhere (a line the splitter copied) is hashed there and moves nothing.
  const std::string copy = "c9";
  CHECK(la.hash(copy) == hash_client_id("c9"));
  CHECK(la.reused() == 1);
  // Skipping c2 (its line went elsewhere) still finds c5; c6 was not scanned.
  CHECK(la.hash(c5) == hash_client_id("c5"));
  CHECK(la.reused() == 2);
  CHECK(la.hash(c6) == hash_client_id("c6"));
  CHECK(la.hash(c2) == hash_client_id("c2"));  // behind the scan now: computed
  CHECK(la.reused() == 2);
  // The same id with another length (a tab the scan did not split on) is not reused.
  const std::string tabbed = "IAMAT c7\t+1+2 1\n";
  la.scan(tabbed);
  CHECK(la.scanned() == 1);
  CHECK(la.hash(std::string_view(tabbed).substr(6, 2)) == hash_client_id("c7"));
  CHECK(la.reused() == 2);
  // After forget(), the scanned input's ids are hashed anew (its memory may hold anything).
  const std::string again = "IAMAT c8 +1+2 1\n";
  la.scan(again);
  la.forget();
  CHECK(la.hash(std::string_view(again).substr(6, 2)) == hash_client_id("c8"));
  CHECK(la.reused() == 2);
  // A new scan forgets the old one; at most kMaxIds ids per scan.
  std::string many;
  for (std::size_t i = 0; i < IdLookahead::kMaxIds + 50; ++i)
    many += "IAMAT c" + std::to_string(i) + " +1+2 " + std::to_string(i) + ".5\n";
  la.scan(many);
  CHECK(la.scanned() == IdLookahead::kMaxIds);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < IdLookahead::kMaxIds + 50; ++i) {
    pos = many.find('c', pos);
    const std::size_t sp = many.find(' ', pos);
    const std::string_view id = std::string_view(many).substr(pos, sp - pos);
    const std::uint64_t h = la.hash(id);
    CHECK(h == hash_client_id(id));
    // The lookups started ahead change nothing: every client is found with that hash.
    if (i < 1000) CHECK(table.find(id, h)->client_id() == id);
    pos = sp;
  }
  CHECK(la.reused() == 2 + IdLookahead::kMaxIds);
}
