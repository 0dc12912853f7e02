// Every rule of PROTOCOL.md sections 3 to 5, valid and invalid, at the edges.
#include <doctest/doctest.h>

#include <string>

#include "core/geo.hpp"
#include "core/message.hpp"
#include "core/timestamp.hpp"

using namespace herd;

TEST_CASE("locations: valid ISO 6709 forms and range edges") {
  for (const char* ok : {"+34.068930-118.445127", "+34-118", "+90+0", "-90-180", "+90.000+180.0",
                         "-0.0+0", "+00.5-000.25", "-89.999999+179.999999", "+9+9", "+1-180.0"}) {
    CAPTURE(ok);
    CHECK(parse_location(ok).has_value());
    CHECK(valid_location(ok));
  }
  auto l = parse_location("+34.068930-118.445127");
  REQUIRE(l);
  CHECK(l->lat == doctest::Approx(34.06893));
  CHECK(l->lng == doctest::Approx(-118.445127));
  auto south_west = parse_location("-00.5-000.25");
  REQUIRE(south_west);
  CHECK(south_west->lat == -0.5);
  CHECK(south_west->lng == -0.25);
  for (const char* bad :
       {"34.0-118.0", "+34.0",  "+34.0+-118.0", "+91+0", "+90.0000001+0", "+0+180.01",
        "+0-181",     "+100+0", "+0+1000",      "+.5+0", "+5.+0",         "+5.0+0.",
        "",           "+",      "+1+2+3",       "+1 +2", "+1e1+0",        "++1+0",
        "+0x1+0",     "+1-2 ",  "-90.1+0",      "+0+0a"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_location(bad).has_value());
    CHECK_FALSE(valid_location(bad));
  }
}

TEST_CASE("radius: > 0 and <= 50, D+[.D+] only") {
  CHECK(parse_radius_km("50").value() == 50.0);
  CHECK(parse_radius_km("50.0000").value() == 50.0);
  CHECK(parse_radius_km("0.001").value() == doctest::Approx(0.001));
  CHECK(parse_radius_km("1").value() == 1.0);
  CHECK(parse_radius_km("007").value() == 7.0);
  for (const char* bad : {"50.0001", "51", "0", "0.0", "-1", "+1", ".5", "5.", "1e1", "", "abc",
                          "1,5", "100000000000000000000000"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_radius_km(bad).has_value());
  }
}

TEST_CASE("bound: 1 to 20") {
  CHECK(parse_bound("1").value() == 1);
  CHECK(parse_bound("20").value() == 20);
  CHECK(parse_bound("05").value() == 5);
  for (const char* bad : {"0", "21", "-1", "+1", "1.0", "", "x", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_bound(bad).has_value());
  }
}

TEST_CASE("client time: exact integers, digits past the ninth ignored") {
  auto t = parse_client_time("1621464827.959498503");
  REQUIRE(t);
  CHECK(t->sec == 1621464827);
  CHECK(t->nsec == 959498503u);
  CHECK(parse_client_time("0").value() == Timestamp{0, 0});
  CHECK(parse_client_time("1.5").value() == Timestamp{1, 500000000});
  CHECK(parse_client_time("1.0000000019").value() == Timestamp{1, 1});
  CHECK(parse_client_time("9223372036854775807").value().sec == INT64_MAX);
  for (const char* bad :
       {"9223372036854775808", "-1", "+1", "1.", ".1", "1e9", "", "1.2.3", "12a", " 1"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_client_time(bad).has_value());
  }
}

TEST_CASE("client time: the eight-digit steps agree with the bytewise reference") {
  // Digits with their neighbours ('/' 0x2f, ':' 0x3a, '?' 0x3f, 0x30 + 0x80) placed in
  // and around the eight-byte blocks, and integer parts at the 63-bit edge.
  for (const char* edge :
       {"12345678", "123456789", "1234567/", "1234567:", "123456?8", "12345678.12345678",
        "12345678.123456789", "1.2345678?", "12345678.1234567:9", "0000000000000000000009",
        "92233720368547758", "9223372036854775807", "9223372036854775808", "09223372036854775807",
        "99999999999999999999", "18446744073709551616", "1796017116.395504256",
        "1796017116.3955042560000000001", "1.\xb0\xb0\xb0\xb0\xb0\xb0\xb0\xb0"}) {
    CAPTURE(edge);
    CHECK(parse_client_time(edge) == parse_client_time_bytewise(edge));
  }
  const char alphabet[] = "0123456789012345678901234567890123456789./:?\xb0";
  std::uint64_t state = 7;
  for (int round = 0; round < 20000; ++round) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    std::string s;
    const std::size_t len = (state >> 40) % 32;
    for (std::size_t i = 0; i < len; ++i) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      // Mostly digits, at most one dot early on, the odd bad byte.
      const unsigned r = static_cast<unsigned>(state >> 33);
      s.push_back(r % 40 == 0 ? alphabet[40 + (r >> 8) % 5] : alphabet[(r >> 8) % 10]);
    }
    if (len > 2 && (state >> 20) % 2) s[(state >> 24) % (len - 1) + 1] = '.';
    CAPTURE(s);
    REQUIRE(parse_client_time(s) == parse_client_time_bytewise(s));
  }
}

TEST_CASE("time difference: sign and exactly nine digits") {
  auto diff = [](Timestamp now, Timestamp then) {
    std::string s;
    append_time_diff(s, now, then);
    return s;
  };
  CHECK(diff({1621464828, 223371889}, {1621464827, 959498503}) == "+0.263873386");
  CHECK(diff({10, 0}, {12, 0}) == "-2.000000000");
  CHECK(diff({5, 5}, {5, 5}) == "+0.000000000");
  CHECK(diff({0, 0}, {0, 1}) == "-0.000000001");
  CHECK(diff({0, 0}, {INT64_MAX, 999999999}) == "-9223372036854775807.999999999");
  CHECK(diff({INT64_MAX, 0}, {0, 999999999}) == "+9223372036854775806.000000001");
  CHECK(is_time_diff("+0.263873386"));
  CHECK(is_time_diff("-2.000000000"));
  CHECK_FALSE(is_time_diff("0.263873386"));
  CHECK_FALSE(is_time_diff("+0.26387338"));
  CHECK_FALSE(is_time_diff("+.263873386"));
  CHECK_FALSE(is_time_diff("+1e3.000000000"));
}

TEST_CASE("messages: IAMAT, WHATSAT, AT, blank and invalid") {
  auto m = parse_message("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503");
  CHECK(m.kind == MessageKind::iamat);
  CHECK(m.client_id == "kiwi.cs.ucla.edu");
  CHECK(m.location_text == "+34.068930-118.445127");
  CHECK(m.time_text == "1621464827.959498503");

  m = parse_message(" \tIAMAT\t\fa  +1+1\v 1 \r");
  CHECK(m.kind == MessageKind::iamat);
  CHECK(m.client_id == "a");

  m = parse_message("WHATSAT kiwi.cs.ucla.edu 10 5");
  CHECK(m.kind == MessageKind::whatsat);
  CHECK(m.radius_km == 10.0);
  CHECK(m.bound == 5);

  m = parse_message(
      "AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503");
  CHECK(m.kind == MessageKind::at);
  CHECK(m.server == "Alford");
  CHECK(m.time_diff == "+0.263873386");

  CHECK(parse_message("").kind == MessageKind::blank);
  CHECK(parse_message(" \t\r\f\v ").kind == MessageKind::blank);

  // UTF-8 and odd bytes are fine in ids; 256 bytes is the limit.
  CHECK(parse_message("IAMAT \xc3\xa9t\xc3\xa9\x01\xff +0+0 0").kind == MessageKind::iamat);
  CHECK(parse_message("IAMAT " + std::string(256, 'x') + " +0+0 0").kind == MessageKind::iamat);
  CHECK(parse_message("IAMAT " + std::string(257, 'x') + " +0+0 0").kind == MessageKind::invalid);
  CHECK(parse_message("WHATSAT " + std::string(257, 'x') + " 1 1").kind == MessageKind::invalid);

  for (const char* bad :
       {"iamat a +0+0 0", "IAMAT a +0+0", "IAMAT a +0+0 0 extra", "IAMAT a 0+0 0",
        "IAMAT a +0+0 -1", "WHATSAT a 10", "WHATSAT a 51 5", "WHATSAT a 10 21", "WHATSAT a 10 0",
        "WHATSAT a .5 1", "WHATSAT a 5. 1", "WHATSAT a 1e1 1", "WHATSAT a +10 5", "whatsat a 10 5",
        "HELLO", "AT Alford 0.1 a +0+0 0", "AT Alford +0.1 a +0+0 0", "AT +0.263873386 a +0+0 0",
        "AT A +0.263873386 a +0+0 0 x"}) {
    CAPTURE(bad);
    CHECK(parse_message(bad).kind == MessageKind::invalid);
  }
}
