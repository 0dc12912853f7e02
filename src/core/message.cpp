#include "core/message.hpp"

#include "core/fields.hpp"

namespace herd {
namespace {

bool valid_client_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxClientIdBytes;
}

bool fill_position(Message& m, std::string_view id, std::string_view loc, std::string_view time) {
  if (!valid_client_id(id)) return false;
  if (!valid_location(loc)) return false;
  auto t = parse_client_time(time);
  if (!t) return false;
  m.client_id = id;
  m.location_text = loc;
  m.time_text = time;
  m.client_time = *t;
  return true;
}

}  // namespace

Message parse_message(std::string_view line) {
  Message m;
  auto f = split_fields<6>(line);
  if (f.count == 0) {
    m.kind = MessageKind::blank;
    return m;
  }
  const std::string_view cmd = f.field[0];
  if (cmd == "IAMAT" && f.count == 4) {
    if (fill_position(m, f.field[1], f.field[2], f.field[3])) m.kind = MessageKind::iamat;
  } else if (cmd == "WHATSAT" && f.count == 4) {
    auto r = parse_radius_km(f.field[2]);
    auto b = parse_bound(f.field[3]);
    if (valid_client_id(f.field[1]) && r && b) {
      m.kind = MessageKind::whatsat;
      m.client_id = f.field[1];
      m.radius_km = *r;
      m.bound = *b;
    }
  } else if (cmd == "AT" && f.count == 6) {
    const std::string_view server = f.field[1];
    if (!server.empty() && server.size() <= kMaxServerNameBytes && is_time_diff(f.field[2]) &&
        fill_position(m, f.field[3], f.field[4], f.field[5])) {
      m.kind = MessageKind::at;
      m.server = server;
      m.time_diff = f.field[2];
    }
  }
  return m;
}

}  // namespace herd
