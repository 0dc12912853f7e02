// Regression tests for the hardening issue: each names what broke.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/admin_request.hpp"
#include "core/client_table.hpp"
#include "core/config.hpp"
#include "core/decimal_format.hpp"
#include "core/geo.hpp"
#include "core/line_splitter.hpp"
#include "core/message.hpp"
#include "core/offline_places.hpp"
#include "core/places_google.hpp"
#include "core/record.hpp"
#include "core/reply_queue.hpp"
#include "core/timestamp.hpp"

using namespace herd;

TEST_CASE("radius check counts every integer digit (leading zeros included)") {
  CHECK(parse_radius_km("0000000000000000005").value() == 5.0);
  CHECK(parse_radius_km("00000000000000000000000000000000050.000").value() == 50.0);
  CHECK(parse_radius_km("0000000000000000000000.5").value() == 0.5);
  for (const char* bad : {"000000000000000000100.5", "1000000", "000000000000000000051",
                          "1000000000000000000000000000000000000000", "050.0000000000000001",
                          "0000000000000000000000", "0.000000000000000000000000000"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_radius_km(bad).has_value());
  }
  std::string long_zeros(10000, '0');
  CHECK(parse_radius_km(long_zeros + "7.25").value() == 7.25);
  CHECK_FALSE(parse_radius_km(long_zeros + "70").has_value());
  CHECK(parse_radius_km("49." + std::string(5000, '9')).has_value());
  // Found by fuzz_numbers: a positive radius below what a double holds read as 0.
  auto tiny = parse_radius_km("0." + std::string(400, '0') + "1");
  REQUIRE(tiny.has_value());
  CHECK(*tiny > 0);
}

TEST_CASE("huge radius cannot overrun the metre formatting (append_decimal)") {
  std::string out;
  append_decimal(out, 1e300, 3, TrailingZeros::drop_all);
  CHECK(out == "1e+300");
  out.clear();
  append_decimal(out, 50 * 1000.0, 3, TrailingZeros::drop_all);
  CHECK(out == "50000");
  out.clear();
  append_decimal(out, 12.5, 3, TrailingZeros::drop_all);
  CHECK(out == "12.5");
  out.clear();
  append_decimal(out, 3.0, 7, TrailingZeros::keep_one);
  CHECK(out == "3.0");
  out.clear();
  append_decimal(out, -118.4451270, 7, TrailingZeros::keep_one);
  CHECK(out == "-118.445127");
  out.clear();
  append_decimal(out, -1e20, 7, TrailingZeros::keep_one);
  CHECK(out == "-1e+20");
}

TEST_CASE("stack memory in a client's reply: New API numbers like 1e300 are written whole") {
  std::string body =
      R"({"places":[{"id":"p","displayName":{"text":"n"},"location":{"latitude":1e300,)"
      R"("longitude":-1e300},"rating":1e300}]})";
  std::string out, error;
  REQUIRE(translate_new_json(body, 200, 5, out, &error));
  CHECK(out.find("\"lat\" : 1e+300,") != std::string::npos);
  CHECK(out.find("\"lng\" : -1e+300\n") != std::string::npos);
  CHECK(out.find("\"rating\" : 1e+300,") != std::string::npos);
  for (char c : out) CHECK((c == '\n' || (c >= 0x20 && c < 0x7f)));
}

TEST_CASE("offline provider: an out-of-range radius never scans past the Earth or hits UB") {
  std::string tsv = "a\tA\t10.0\t20.0\tv\nb\tB\t-10.0\t-20.0\tw\n";
  auto p = OfflinePlaces::parse(tsv, nullptr);
  REQUIRE(p);
  CHECK(p->nearby({0, 0}, 1e300, 20).size() == 2);
  CHECK(p->nearby({0, 0}, -5, 20).empty());
  CHECK(p->nearby({0, 0}, 0.0 / 0.0, 20).empty());
}

TEST_CASE("records: a location longer than 65,535 bytes is stored whole") {
  std::string loc = "+1." + std::string(70000, '5') + "-2";
  std::string line = "IAMAT c " + loc + " 1";
  Message m = parse_message(line);
  REQUIRE(m.kind == MessageKind::iamat);
  RecordRef r = RecordRef::from_iamat("Ball", {2, 0}, m);
  CHECK(r->location_text() == loc);
  CHECK(parse_location(r->location_text()).has_value());
  std::string at(r->line());
  Message am = parse_message(at);
  REQUIRE(am.kind == MessageKind::at);
  RecordRef back = RecordRef::from_at_line(at, am);
  REQUIRE(back);
  CHECK(back->location_text() == loc);
  CHECK(back->client_id() == "c");
}

TEST_CASE(
    "records read their fields from the line: an AT line padded past 64 KiB is stored whole") {
  std::string at = "AT Ball +0.000000000" + std::string(70000, ' ') + "c\t+0+0  1.5 ";
  Message m = parse_message(at);
  REQUIRE(m.kind == MessageKind::at);
  RecordRef r = RecordRef::from_at_line(at, m);
  REQUIRE(r);
  CHECK(r->line() == at);
  CHECK(r->client_id() == "c");
  CHECK(r->location_text() == "+0+0");
  CHECK(r->client_time() == Timestamp{1, 500000000});
  CHECK(r->id_hash() == hash_client_id("c"));
  ClientTable t;
  CHECK(t.offer(r));
  CHECK(t.find("c")->line() == at);
}

TEST_CASE("time differences on links are at most what a server writes") {
  CHECK(is_time_diff("+18446744073709551615.999999999"));
  CHECK_FALSE(is_time_diff("+" + std::string(100, '1') + ".000000000"));
  CHECK(parse_message("AT B +" + std::string(100, '1') + ".000000000 c +0+0 1").kind ==
        MessageKind::invalid);
}

TEST_CASE("client ids are hashed with a keyed SipHash") {
  // The reference SipHash-2-4 vectors (key 00 01 .. 0f).
  const std::uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
  CHECK(siphash(k0, k1, "", 2, 4) == 0x726fdb47dd0e0e31ull);
  CHECK(siphash(k0, k1, std::string(1, '\0'), 2, 4) == 0x74f839c593dc67fdull);
  std::string fifteen;
  for (int i = 0; i < 15; ++i) fifteen.push_back(static_cast<char>(i));
  CHECK(siphash(k0, k1, fifteen, 2, 4) == 0xa129ca6149be45e5ull);
  CHECK(hash_client_id("x") == hash_client_id("x"));
  CHECK(hash_client_id("x") != hash_client_id("y"));
}

TEST_CASE("catch-up takes a stripe in bounded pieces and survives a rehash") {
  ClientTable t;
  // Find ids in one stripe.
  std::vector<std::string> ids;
  const std::uint64_t want = hash_client_id("seed") & (ClientTable::kStripes - 1);
  for (int i = 0; ids.size() < 300; ++i) {
    std::string id = "id" + std::to_string(i);
    if ((hash_client_id(id) & (ClientTable::kStripes - 1)) == want) ids.push_back(id);
  }
  auto add = [&](const std::string& id) {
    std::string line = "AT B +0.000000000 " + id + " +0+0 1";
    Message m = parse_message(line);
    CHECK(t.offer(RecordRef::from_at_line(line, m)));
  };
  for (std::size_t i = 0; i < 100; ++i) add(ids[i]);
  ClientTable::StripeCursor cur;
  std::vector<RecordRef> out;
  CHECK_FALSE(t.snapshot_stripe(want, cur, 10, out));
  CHECK(out.size() == 10);
  for (std::size_t i = 100; i < 300; ++i) add(ids[i]);  // grows: the cursor restarts
  while (!t.snapshot_stripe(want, cur, 10, out)) CHECK(out.size() % 10 == 0);
  std::vector<std::string> seen;
  for (auto& r : out) seen.emplace_back(r->client_id());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  CHECK(seen.size() == 300);
}

TEST_CASE("back-pressure: replies waiting behind a slow lookup are owed, and fill is O(1)") {
  BlockPool pool;
  ReplyQueue q(pool);
  q.append("a\n");
  auto slow = q.reserve();
  for (int i = 0; i < 100000; ++i) q.append("AT line behind the lookup\n");
  CHECK(q.owed_bytes() == 2 + 100000 * 26);
  std::vector<ReplyQueue::Slot> slots;
  for (int i = 0; i < 100000; ++i) slots.push_back(q.reserve());
  for (auto it = slots.rbegin(); it != slots.rend(); ++it) CHECK(q.fill(*it, "x\n"));
  auto take = [&q] {
    std::vector<std::string_view> parts;
    const std::size_t n = q.take_ready(parts);
    std::string out;
    for (auto p : parts) out.append(p);
    CHECK(out.size() == n);
    q.release_taken();
    return out;
  };
  std::string out = take();
  CHECK(out == "a\n");
  CHECK(q.owed_bytes() == 2 + 100000 * 26 + 100000 * 2);
  q.written(out.size());
  CHECK(q.fill(slow, "slow\n"));
  out = take();
  CHECK(out.size() == 5 + 100000 * 26 + 100000 * 2);
  CHECK(out.compare(0, 5 + 26, "slow\nAT line behind the lookup\n") == 0);
  CHECK(out.substr(out.size() - 4) == "x\nx\n");
  CHECK(q.empty());
  q.written(out.size());
  CHECK(q.owed_bytes() == 0);
  CHECK(pool.blocks_out() == 0);
}

TEST_CASE("back-pressure is checked line by line: the splitter pauses and resumes") {
  LineSplitter s(100);
  std::vector<std::string> lines;
  int budget = 2;
  auto on_line = [&](std::string_view l) {
    lines.emplace_back(l);
    return --budget > 0 ? LineAction::go : LineAction::pause;
  };
  std::string in = "a\nb\nc\nd\ne\npart";
  CHECK(s.feed(in.data(), in.size(), on_line) == FeedResult::paused);
  CHECK(lines == std::vector<std::string>{"a", "b"});
  CHECK(s.has_held());
  CHECK(s.held() == "c\nd\ne\npart");
  budget = 2;
  CHECK(s.resume(on_line) == FeedResult::paused);
  CHECK(lines.size() == 4);
  CHECK(s.held() == "e\npart");
  budget = 10;
  CHECK(s.resume(on_line) == FeedResult::ok);
  CHECK_FALSE(s.has_held());
  CHECK(lines.size() == 5);
  std::string more = "ial\n";
  CHECK(s.feed(more.data(), more.size(), on_line) == FeedResult::ok);
  CHECK(lines.back() == "partial");
}

TEST_CASE("admin requests are scanned once, bounded, and parsed") {
  std::string buf;
  std::size_t scanned = 0;
  buf = "GET /healthz HTTP/1.1\r\nHost: x\r";
  CHECK(parse_admin_request(buf, scanned).state == AdminRequest::State::need_more);
  buf += "\n\r";
  CHECK(parse_admin_request(buf, scanned).state == AdminRequest::State::need_more);
  buf += "\n";
  auto r = parse_admin_request(buf, scanned);
  REQUIRE(r.state == AdminRequest::State::complete);
  CHECK(r.method == "GET");
  CHECK(r.target == "/healthz");
  scanned = 0;
  std::string big(kMaxAdminRequestBytes + 1, 'x');
  CHECK(parse_admin_request(big, scanned).state == AdminRequest::State::too_long);
  scanned = 0;
  CHECK(parse_admin_request("GET /metrics\n\n", scanned).target == "/metrics");
}

TEST_CASE("new [herd] limits are validated like the others") {
  std::string err;
  auto c = parse_config(
      "[herd]\nmax_connections = 5\nidle_timeout_s = 30\nlog_max_bytes = 0\n"
      "log_keep = 2\n[[server]]\nname = \"A\"\nport = 1\n",
      "h.toml", &err);
  REQUIRE(c);
  CHECK(c->max_connections == 5);
  CHECK(c->idle_timeout_s == 30);
  CHECK(c->log_max_bytes == 0);
  CHECK(c->log_keep == 2);
  auto d = parse_config("[[server]]\nname = \"A\"\nport = 1\n", "h.toml", &err);
  REQUIRE(d);
  CHECK(d->max_connections == 10000);
  CHECK(d->idle_timeout_s == 0);
  CHECK(d->log_max_bytes == 268435456);
  CHECK(d->log_keep == 4);
  for (const char* bad : {"max_connections = 0", "idle_timeout_s = -1", "log_max_bytes = 100",
                          "log_keep = -1", "max_line_bytes = 65537", "max_connections = \"x\""}) {
    CAPTURE(bad);
    err.clear();
    CHECK_FALSE(parse_config(
        std::string("[herd]\n") + bad + "\n[[server]]\nname = \"A\"\nport = 1\n", "h.toml", &err));
    CHECK(err.find("h.toml:2:") == 0);
  }
  CHECK(parse_config("[herd]\nmax_line_bytes = 65536\n[[server]]\nname = \"A\"\nport = 1\n",
                     "h.toml", &err));
}
