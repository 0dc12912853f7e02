#pragma once
// Client-table lookups of a batch of lines, started ahead of the lines' handling. A read
// brings many IAMAT and WHATSAT lines at once (a pipelining client, or many clients'
// lines in one pass); each looks up a random client, a cache miss or two. Hashing the
// ids first and asking for their slots and records a few lines ahead of use overlaps
// those misses instead of paying them one after another.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/client_table.hpp"

namespace herd {

class IdLookahead {
 public:
  static constexpr std::size_t kMaxIds = 128;  // per scan: one turn of a session's lines
  static constexpr std::size_t kSlotsAhead = 12, kRecordsAhead = 6;

  explicit IdLookahead(const ClientTable& table) : table_(table) { ids_.reserve(kMaxIds); }

  // Forgets the last scan; notes the client id of each whole line of `input` (up to
  // kMaxIds) that starts "IAMAT " or "WHATSAT ", and starts the first lookups. The ids are
  // remembered by address: input must stay unchanged until forget(), which must come once
  // its lines are handled (before the memory can hold anything else).
  void scan(std::string_view input);
  void forget() {
    input_ = {};
    ids_.clear();
    next_ = 0;
  }

  // hash_client_id(client_id). When client_id is the next id of the scan (the same bytes
  // of the same input), the hash computed by the scan, and the lookups of the lines
  // ahead are started; otherwise it is computed here.
  std::uint64_t hash(std::string_view client_id);

  std::size_t scanned() const { return ids_.size(); }  // for tests
  std::size_t reused() const { return reused_; }       // for tests: hashes taken from the scan

 private:
  struct Id {
    const char* at;
    std::size_t len;
    std::uint64_t hash;
  };
  void start(std::size_t i);  // the lookups due when id i is next

  const ClientTable& table_;
  std::string_view input_;
  std::vector<Id> ids_;
  std::size_t next_ = 0;
  std::size_t reused_ = 0;
};

}  // namespace herd
