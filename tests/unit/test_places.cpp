// Places JSON helpers and the offline provider's index (PROTOCOL.md section 4).
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "core/geo.hpp"
#include "core/offline_places.hpp"
#include "core/places_json.hpp"
#include "herd_build_config.hpp"

using namespace herd;

TEST_CASE("JSON normalisation: CRLF, runs of newlines, outer white space") {
  std::string out;
  append_normalized_json(out, "\r\n  {\r\n\r\n\n   \"a\" : 1,\n\n\n   \"b\" : 2\r\n}\n\n \t");
  CHECK(out == "{\n   \"a\" : 1,\n   \"b\" : 2\n}");
  out.clear();
  append_normalized_json(out, "{}");
  CHECK(out == "{}");
}

TEST_CASE("JSON escaping and error objects") {
  std::string out;
  append_json_escaped(out, "a\"b\\c\n\x01\xc3\xa9");
  CHECK(out == "a\\\"b\\\\c\\n\\u0001\xc3\xa9");
  CHECK(error_places_json("UNKNOWN_ERROR", "time-out after 5000 ms") ==
        "{\n   \"error_message\" : \"time-out after 5000 ms\",\n   \"html_attributions\" : [],\n"
        "   \"results\" : [],\n   \"status\" : \"UNKNOWN_ERROR\"\n}");
}

namespace {
const std::string kSample =
    "# comment\n"
    "p0\tZero\t0.00000\t0.00000\tZero, XX\n"
    "p1\tNear \"quoted\"\t0.01000\t0.00000\tNear, XX\n"
    "p2\tEast\t0.00000\t0.20000\tEast, XX\n"
    "p3\tAcross\t0.00000\t179.99000\tAcross, XX\n"
    "p4\tOther side\t0.00000\t-179.98000\tOther side, XX\n"
    "p5\tPole\t89.99000\t45.00000\tPole, XX\n"
    "p6\tPole too\t89.99000\t-135.00000\tPole too, XX\n";
}

TEST_CASE("offline index: nearest first, radius respected, antimeridian and poles") {
  std::string err;
  auto p = OfflinePlaces::parse(kSample, &err);
  REQUIRE(p);
  CHECK(p->size() == 7);
  auto r = p->nearby({0, 0}, 10, 20);
  CHECK(r == std::vector<std::uint32_t>{0, 1});
  CHECK(p->nearby({0, 0}, 50, 20) == std::vector<std::uint32_t>{0, 1, 2});
  CHECK(p->nearby({0, 0}, 50, 2) == std::vector<std::uint32_t>{0, 1});
  CHECK(p->nearby({0, 180}, 5, 20) == std::vector<std::uint32_t>{3, 4});
  CHECK(p->nearby({0, -180}, 5, 20) == std::vector<std::uint32_t>{3, 4});
  CHECK(p->nearby({90, 0}, 5, 20) == std::vector<std::uint32_t>{5, 6});
  CHECK(p->nearby({-45, 0}, 50, 20).empty());
}

TEST_CASE("offline JSON: legacy shape, escaped names, ZERO_RESULTS, already normalised") {
  auto p = OfflinePlaces::parse(kSample, nullptr);
  REQUIRE(p);
  std::string json;
  p->append_json(json, p->nearby({0, 0}, 2, 5));
  CHECK(json.find("\"status\" : \"OK\"") != std::string::npos);
  CHECK(json.find("\"name\" : \"Near \\\"quoted\\\"\"") != std::string::npos);
  CHECK(json.find("\"lat\" : 0.01000") != std::string::npos);
  CHECK(json.find("\"place_id\" : \"p1\"") != std::string::npos);
  CHECK(json.find("GeoNames") != std::string::npos);
  std::string norm;
  append_normalized_json(norm, json);
  CHECK(norm == json);
  json.clear();
  p->append_json(json, {});
  CHECK(json == std::string("{\n   \"html_attributions\" : [ \"") +
                    std::string(OfflinePlaces::kAttribution) +
                    "\" ],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}");
}

TEST_CASE("offline data errors name the line") {
  std::string err;
  CHECK_FALSE(OfflinePlaces::parse("p\tA\t1\t2\n\nq\tB\tx\t2\tv\n", &err));
  CHECK(err == "line 1: expected 5 tab-separated fields");
  CHECK_FALSE(OfflinePlaces::parse("q\tB\t91\t2\tv\n", &err));
  CHECK(err == "line 1: bad latitude");
}

TEST_CASE("offline index agrees with a brute-force scan of the real dataset") {
  std::ifstream in(HERD_DEFAULT_PLACES_DATA, std::ios::binary);
  REQUIRE(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto p = OfflinePlaces::parse(ss.str(), nullptr);
  REQUIRE(p);
  CHECK(p->size() > 150000);
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> lat(-60, 70), lng(-180, 180), rad(0.5, 50);
  for (int q = 0; q < 40; ++q) {
    Location at{lat(rng), lng(rng)};
    if (q == 0) at = {34.06893, -118.445127};
    if (q == 1) at = {51.5, -0.12};
    double radius = rad(rng);
    auto got = p->nearby(at, radius, 20);
    std::vector<std::pair<double, std::uint32_t>> all;
    for (std::uint32_t i = 0; i < p->size(); ++i) {
      double d = distance_km(at, p->location(i));
      if (d <= radius) all.emplace_back(d, i);
    }
    std::sort(all.begin(), all.end());
    std::vector<std::uint32_t> want;
    for (std::size_t i = 0; i < std::min<std::size_t>(20, all.size()); ++i)
      want.push_back(all[i].second);
    CAPTURE(q);
    CHECK(got == want);
  }
}
