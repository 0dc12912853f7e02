// Fuzzes the line splitter against a simple reference over random chunkings, with pauses
// and resumes: the lines handed over must be exactly the reference's, in order. Each
// chunk and each resumed rest is scanned by an IdLookahead first, as a session does, and
// every IAMAT and WHATSAT id must hash through it as hash_client_id does.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/id_lookahead.hpp"
#include "core/line_splitter.hpp"
#include "core/message.hpp"

using namespace herd;

namespace {

// The reference: split the whole input at once. A '\r' ends no line by itself; at the
// end of the stream an unterminated rest is the final line, '\r' and all, but while more
// input may come a trailing '\r' may still start a terminator, so it does not count yet.
struct Reference {
  std::vector<std::string> lines;
  bool too_long = false;  // while streaming
  std::string rest;       // the final unterminated line
};

Reference reference(const std::string& in, std::size_t max) {
  Reference r;
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = in.find('\n', start);
    if (nl == std::string::npos) {
      r.rest = in.substr(start);
      std::size_t counted = r.rest.size();
      if (counted && r.rest.back() == '\r') --counted;
      if (counted > max) r.too_long = true;
      return r;
    }
    std::string line = in.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > max) {
      r.too_long = true;
      return r;
    }
    r.lines.push_back(line);
    start = nl + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t max = 1 + data[0] % 64;
  const std::uint8_t chunk_seed = data[1];
  const std::uint8_t pause_seed = data[2];
  const std::string in(reinterpret_cast<const char*>(data + 3), size - 3);
  Reference want = reference(in, max);

  LineSplitter s(max);
  static ClientTable table;  // empty: the lookahead's lookups find nothing
  IdLookahead la(table);
  std::vector<std::string> got;
  unsigned counter = 0;
  auto on_line = [&](std::string_view l) {
    got.emplace_back(l);
    const Message m = parse_message(l);
    if ((m.kind == MessageKind::iamat || m.kind == MessageKind::whatsat) &&
        la.hash(m.client_id) != hash_client_id(m.client_id))
      std::abort();
    return (++counter * 31 + pause_seed) % 5 == 0 ? LineAction::pause : LineAction::go;
  };
  bool too_long = false;
  std::size_t pos = 0, k = 0;
  while (pos < in.size() && !too_long) {
    std::size_t n = 1 + (chunk_seed * (k + 7) + k * k) % 23;
    n = std::min(n, in.size() - pos);
    la.scan(std::string_view(in.data() + pos, n));
    FeedResult r = s.feed(in.data() + pos, n, on_line);
    la.forget();
    pos += n;
    ++k;
    while (r == FeedResult::paused) {
      la.scan(s.held());
      r = s.resume(on_line);
      la.forget();
    }
    if (r == FeedResult::too_long) too_long = true;
  }
  if (got != std::vector<std::string>(
                 want.lines.begin(),
                 want.lines.begin() + static_cast<long>(std::min(got.size(), want.lines.size())))) {
    std::abort();
  }
  if (!too_long && got.size() != want.lines.size()) std::abort();
  if (too_long && !want.too_long) std::abort();
  if (!too_long) {
    bool final_ok = s.finish([&](std::string_view l) {
      got.emplace_back(l);
      return true;
    });
    if (final_ok != (want.rest.size() <= max)) std::abort();
    if (final_ok && !want.rest.empty() && got.back() != want.rest) std::abort();
  }
  return 0;
}
