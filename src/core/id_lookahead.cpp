#include "core/id_lookahead.hpp"

#include <cassert>
#include <cstring>
#include <functional>

namespace herd {

void IdLookahead::scan(std::string_view input) {
  input_ = input;
  ids_.clear();
  next_ = 0;
  const char* p = input.data();
  const char* const end = p + input.size();
  while (p < end && ids_.size() < kMaxIds) {
    const auto* nl =
        static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (!nl) break;  // a partial line: handled later, from another buffer
    const std::string_view line(p, static_cast<std::size_t>(nl - p));
    p = nl + 1;
    std::size_t skip = 0;
    if (line.starts_with("IAMAT ")) {
      skip = 6;
    } else if (line.starts_with("WHATSAT ")) {
      skip = 8;
    } else {
      continue;
    }
    const std::string_view rest = line.substr(skip);
    const std::size_t sp = rest.find(' ');
    if (sp == 0 || sp == std::string_view::npos || sp > kMaxClientIdBytes) continue;
    ids_.push_back(Id{rest.data(), sp, hash_client_id(rest.substr(0, sp))});
  }
  for (std::size_t i = 0; i < ids_.size() && i < kSlotsAhead; ++i)
    table_.prefetch_slots(ids_[i].hash);
  for (std::size_t i = 0; i < ids_.size() && i < kRecordsAhead; ++i)
    table_.prefetch_record(ids_[i].hash);
}

void IdLookahead::start(std::size_t i) {
  if (i + kSlotsAhead < ids_.size()) table_.prefetch_slots(ids_[i + kSlotsAhead].hash);
  if (i + kRecordsAhead < ids_.size()) table_.prefetch_record(ids_[i + kRecordsAhead].hash);
}

std::uint64_t IdLookahead::hash(std::string_view client_id) {
  // Lines are handled in input order; ids the handling skipped (a line the scan misread)
  // are passed over. A line from elsewhere (the splitter's copy of a line split across
  // reads) leaves the scan where it is.
  std::less<const char*> before;
  if (before(client_id.data(), input_.data()) ||
      !before(client_id.data(), input_.data() + input_.size()))
    return hash_client_id(client_id);
  while (next_ < ids_.size() && before(ids_[next_].at, client_id.data())) ++next_;
  if (next_ < ids_.size() && ids_[next_].at == client_id.data() &&
      ids_[next_].len == client_id.size()) {
    const std::uint64_t h = ids_[next_].hash;
    assert(h == hash_client_id(client_id));
    start(next_);
    ++next_;
    ++reused_;
    return h;
  }
  return hash_client_id(client_id);
}

}  // namespace herd
