// Fuzzes message parsing (PROTOCOL.md sections 3 to 5) and the records built from it: an
// IAMAT's AT line must parse back as an AT line with the same fields, and an AT line
// must round-trip through a record byte for byte. The block-wise field split must agree
// with the bytewise one.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/fields.hpp"
#include "core/log_escape.hpp"
#include "core/message.hpp"
#include "core/record.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  Message m = parse_message(line);
  const auto fast = split_fields<6>(line);
  const auto slow = split_fields_bytewise<6>(line);
  if (fast.count != slow.count) std::abort();
  for (std::size_t k = 0; k < 6; ++k) {
    if (fast.field[k].data() != slow.field[k].data() ||
        fast.field[k].size() != slow.field[k].size()) {
      std::abort();
    }
  }
  std::string escaped = log_escaped(line);
  for (char c : escaped) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
  }
  if (m.kind == MessageKind::iamat) {
    RecordRef r = RecordRef::from_iamat("Fuzz", {1700000000, 123456789}, m);
    Message back = parse_message(r->line());
    if (back.kind != MessageKind::at || back.client_id != m.client_id ||
        back.location_text != m.location_text || back.time_text != m.time_text ||
        back.client_time != m.client_time || r->client_id() != m.client_id ||
        r->location_text() != m.location_text) {
      std::abort();
    }
  } else if (m.kind == MessageKind::at) {
    RecordRef r = RecordRef::from_at_line(line, m);
    if (r && (r->line() != line || r->client_id() != m.client_id ||
              r->location_text() != m.location_text || r->client_time() != m.client_time)) {
      std::abort();
    }
  } else if (m.kind == MessageKind::whatsat) {
    if (!(m.radius_km > 0 && m.radius_km <= 50) || m.bound < 1 || m.bound > 20) std::abort();
  }
  return 0;
}
