#include "core/record.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

namespace herd {

std::uint64_t hash_client_id(std::string_view id) {
  // FNV-1a followed by a 64-bit finaliser (splitmix) so both low and high bits mix well.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

Record* Record::allocate(std::size_t line_len) {
  void* mem = std::malloc(sizeof(Record) + line_len + 1);
  if (!mem) throw std::bad_alloc();
  Record* r = new (mem) Record();
  r->line_len_ = static_cast<std::uint32_t>(line_len);
  r->text()[line_len] = '\n';
  return r;
}

void Record::set_fields(std::size_t id_off, std::size_t id_len, std::size_t loc_off,
                        std::size_t loc_len, Timestamp time) {
  id_off_ = static_cast<std::uint16_t>(id_off);
  id_len_ = static_cast<std::uint16_t>(id_len);
  loc_off_ = static_cast<std::uint16_t>(loc_off);
  loc_len_ = static_cast<std::uint16_t>(loc_len);
  time_ = time;
  hash_ = hash_client_id(client_id());
}

RecordRef RecordRef::from_at_line(std::string_view at_line, const Message& m) {
  Record* r = Record::allocate(at_line.size());
  std::memcpy(r->text(), at_line.data(), at_line.size());
  r->set_fields(static_cast<std::size_t>(m.client_id.data() - at_line.data()), m.client_id.size(),
                static_cast<std::size_t>(m.location_text.data() - at_line.data()),
                m.location_text.size(), m.client_time);
  RecordRef ref;
  ref.r_ = r;
  return ref;
}

RecordRef RecordRef::from_iamat(std::string_view server, Timestamp now, const Message& m) {
  char diff[kMaxTimeDiffBytes];
  const std::size_t diff_len = format_time_diff(diff, now, m.client_time);
  const std::size_t len = 3 + server.size() + 1 + diff_len + 1 + m.client_id.size() + 1 +
                          m.location_text.size() + 1 + m.time_text.size();
  Record* r = Record::allocate(len);
  char* p = r->text();
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put("AT ");
  put(server);
  *p++ = ' ';
  put(std::string_view(diff, diff_len));
  *p++ = ' ';
  const std::size_t id_off = static_cast<std::size_t>(p - r->text());
  put(m.client_id);
  *p++ = ' ';
  const std::size_t loc_off = static_cast<std::size_t>(p - r->text());
  put(m.location_text);
  *p++ = ' ';
  put(m.time_text);
  r->set_fields(id_off, m.client_id.size(), loc_off, m.location_text.size(), m.client_time);
  RecordRef ref;
  ref.r_ = r;
  return ref;
}

void RecordRef::release() {
  if (r_ && r_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    r_->~Record();
    std::free(r_);
  }
  r_ = nullptr;
}

bool is_newer(const Record& a, const Record& b) {
  if (a.client_time() != b.client_time()) return a.client_time() > b.client_time();
  return a.line() > b.line();
}

}  // namespace herd
