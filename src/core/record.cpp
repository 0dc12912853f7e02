#include "core/record.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <stdexcept>

#include "core/fields.hpp"
#include "core/record_pool.hpp"

namespace herd {

namespace {

struct SipKey {
  std::uint64_t k0, k1;
};

SipKey make_sip_key() {
  SipKey k{};
  std::random_device rd;  // /dev/urandom on Linux
  k.k0 = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  k.k1 = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return k;
}

const SipKey kSipKey = make_sip_key();

constexpr std::uint64_t rotl(std::uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void absorb(std::uint64_t m, int c_rounds) {
    v3 ^= m;
    for (int r = 0; r < c_rounds; ++r) round();
    v0 ^= m;
  }
};

}  // namespace

std::uint64_t siphash(std::uint64_t k0, std::uint64_t k1, std::string_view data, int c_rounds,
                      int d_rounds) {
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t m;
    std::memcpy(&m, p + i, 8);  // little-endian hosts (x86-64, arm64)
    s.absorb(m, c_rounds);
  }
  std::uint64_t last = static_cast<std::uint64_t>(n) << 56;
  for (std::size_t k = 0; i + k < n; ++k) last |= static_cast<std::uint64_t>(p[i + k]) << (8 * k);
  s.absorb(last, c_rounds);
  s.v2 ^= 0xff;
  for (int r = 0; r < d_rounds; ++r) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint64_t hash_client_id(std::string_view id) {
  return siphash(kSipKey.k0, kSipKey.k1, id, 1, 3);
}

Record* Record::allocate(std::size_t line_len) {
  if (line_len >= UINT32_MAX) throw std::length_error("AT line too long");
  // 8-byte aligned: the client table packs addresses shifted by 3 bits.
  static_assert(record_pool::kGranule % 8 == 0);
  Record* r = new (record_pool::allocate(sizeof(Record) + line_len + 1)) Record();
  r->line_len_ = static_cast<std::uint32_t>(line_len);
  r->text()[line_len] = '\n';
  return r;
}

std::string_view Record::field(std::size_t k) const {
  const std::string_view l = line();
  std::size_t i = 0;
  const std::size_t n = l.size();
  for (std::size_t f = 0;; ++f) {
    while (i < n && is_space(l[i])) ++i;
    const std::size_t start = i;
    while (i < n && !is_space(l[i])) ++i;
    if (f == k || i == n) return l.substr(start, i - start);
  }
}

Timestamp Record::client_time() const {
  // The last field, read from the end (white space after it is skipped).
  const std::string_view l = line();
  std::size_t e = l.size();
  while (e > 0 && is_space(l[e - 1])) --e;
  std::size_t b = e;
  while (b > 0 && !is_space(l[b - 1])) --b;
  return parse_client_time(l.substr(b, e - b)).value_or(Timestamp{});
}

std::uint64_t Record::id_hash() const {
  return hash_client_id(client_id());
}

RecordRef RecordRef::from_at_line(std::string_view at_line, const Message&) {
  Record* r = Record::allocate(at_line.size());
  RecordRef ref;
  ref.r_ = r;
  std::memcpy(r->text(), at_line.data(), at_line.size());
  return ref;
}

RecordRef RecordRef::from_iamat(std::string_view server, Timestamp now, const Message& m) {
  char diff[kMaxTimeDiffBytes];
  const std::size_t diff_len = format_time_diff(diff, now, m.client_time);
  const std::size_t len = 3 + server.size() + 1 + diff_len + 1 + m.client_id.size() + 1 +
                          m.location_text.size() + 1 + m.time_text.size();
  Record* r = Record::allocate(len);
  RecordRef ref;
  ref.r_ = r;
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
  put(m.client_id);
  *p++ = ' ';
  put(m.location_text);
  *p++ = ' ';
  put(m.time_text);
  return ref;
}

void RecordRef::release() {
  if (r_ && r_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    const std::size_t bytes = sizeof(Record) + r_->line_len_ + 1;
    r_->~Record();
    record_pool::deallocate(r_, bytes);
  }
  r_ = nullptr;
}

bool is_newer(const Record& a, const Record& b) {
  return is_newer(a, a.client_time(), b);
}

bool is_newer(const Record& a, Timestamp ta, const Record& b) {
  const Timestamp tb = b.client_time();  // parsed once
  if (ta != tb) return ta > tb;
  return a.line() > b.line();
}

}  // namespace herd
