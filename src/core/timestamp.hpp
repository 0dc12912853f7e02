#pragma once
// Exact client times (PROTOCOL.md section 3): whole seconds and nanoseconds as two
// integers, never a double.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herd {

struct Timestamp {
  std::int64_t sec = 0;    // >= 0 for client times
  std::uint32_t nsec = 0;  // 0 .. 999'999'999
  friend constexpr auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

// Parses `D+[.D+]` with an integer part that fits in 63 bits. Fraction digits past the
// ninth are accepted and ignored. Returns nullopt for anything else.
std::optional<Timestamp> parse_client_time(std::string_view s);

// The byte-at-a-time reference for parse_client_time (tests and fuzzers compare the two).
std::optional<Timestamp> parse_client_time_bytewise(std::string_view s);

// Appends `now - then` as a sign, the seconds and exactly nine fractional digits
// ("+0.263873386", "-2.000000000"). Works for any two valid timestamps.
void append_time_diff(std::string& out, Timestamp now, Timestamp then);

// The same text written into buf, which must hold kMaxTimeDiffBytes; returns its length.
constexpr std::size_t kMaxTimeDiffBytes = 32;
std::size_t format_time_diff(char* buf, Timestamp now, Timestamp then);

// True if s has the shape append_time_diff produces (and at most its length).
bool is_time_diff(std::string_view s);

}  // namespace herd
