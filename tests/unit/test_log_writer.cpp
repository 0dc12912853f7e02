// The log writer's queue (chunks of whole lines, reused) and rotation on line boundaries.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "../common/temp_dir.hpp"
#include "server/log_writer.hpp"

using herd::test::TempDir;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Lines of every size around the 256 KiB chunk, in batches of several lines.
std::string make_lines(std::mt19937& rng, std::size_t count) {
  std::string out;
  std::uniform_int_distribution<int> small(0, 300), pick(0, 49);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t len = static_cast<std::size_t>(small(rng));
    if (pick(rng) == 0)
      len = 256 * 1024 - 40 + static_cast<std::size_t>(small(rng));  // about a chunk
    if (pick(rng) == 1) len = 600 * 1024;                            // over two
    std::string line = "line " + std::to_string(i) + " ";
    line.append(len, static_cast<char>('a' + i % 26));
    out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("log writer: every line reaches the file whole and in order, whatever its size") {
  TempDir dir{"herd-logwriter"};
  const std::string path = dir.path + "/T.log";
  std::mt19937 rng(7);
  std::string expected;
  {
    herd::LogWriter w(path, 0, 0);
    std::string error;
    REQUIRE(w.start(&error));
    for (int batch = 0; batch < 200; ++batch) {
      std::string text = make_lines(rng, 1 + batch % 17);
      w.write(text);
      expected += text;
      if (batch % 50 == 0) w.flush();  // reused chunks after a write-out
    }
    w.flush();
    CHECK(w.dropped_lines() == 0);
  }
  CHECK(read_file(path) == expected);
}

TEST_CASE("log writer: rotation cuts between lines, and the files hold everything in order") {
  TempDir dir{"herd-logwriter"};
  const std::string path = dir.path + "/R.log";
  std::mt19937 rng(11);
  std::string expected;
  const std::uint64_t max_bytes = 1024 * 1024;
  {
    herd::LogWriter w(path, max_bytes, 50);
    std::string error;
    REQUIRE(w.start(&error));
    for (int batch = 0; batch < 60; ++batch) {
      std::string text = make_lines(rng, 5);
      w.write(text);
      expected += text;
    }
    w.flush();
    CHECK(w.dropped_lines() == 0);
  }
  std::string all;
  for (int i = 50; i >= 1; --i) {
    const std::string p = path + "." + std::to_string(i);
    if (!std::filesystem::exists(p)) continue;
    const std::string f = read_file(p);
    REQUIRE(!f.empty());
    CHECK(f.back() == '\n');  // a file ends where a line does
    // Over max_bytes only by a line that is the file's first.
    if (f.size() > max_bytes) CHECK(f.find('\n') == f.size() - 1);
    all += f;
  }
  all += read_file(path);
  CHECK(all == expected);
}

TEST_CASE("log writer: text beyond the queue's cap is dropped by whole lines and counted") {
  TempDir dir{"herd-logwriter"};
  const std::string path = dir.path + "/D.log";
  herd::LogWriter w(path, 0, 0);  // not started: nothing drains the queue
  std::string line(1000, 'x');
  line += "\n";
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += line;  // 100,100 bytes, 100 lines
  const std::size_t fits = herd::LogWriter::kMaxQueuedBytes / batch.size();
  for (std::size_t i = 0; i < fits + 3; ++i) w.write(batch);
  CHECK(w.dropped_lines() == 300);
}
