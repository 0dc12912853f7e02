#pragma once
// Parsing of one protocol line into a message (PROTOCOL.md sections 3 to 5). Pure: the
// result holds views into the line it was given.
#include <cstddef>
#include <string_view>

#include "core/geo.hpp"
#include "core/timestamp.hpp"

namespace herd {

constexpr std::size_t kMaxClientIdBytes = 256;
constexpr std::size_t kMaxServerNameBytes = 64;

enum class MessageKind { blank, iamat, whatsat, at, invalid };

struct Message {
  MessageKind kind = MessageKind::invalid;
  std::string_view client_id;
  // IAMAT and AT:
  std::string_view location_text;
  std::string_view time_text;
  Timestamp client_time;
  // AT only:
  std::string_view server;
  std::string_view time_diff;
  // WHATSAT only:
  double radius_km = 0;
  int bound = 0;
};

// Classifies and validates one line (terminator already removed). Never throws. An AT
// line is parsed here whatever the connection; whether it is allowed is the caller's
// decision.
Message parse_message(std::string_view line);

}  // namespace herd
