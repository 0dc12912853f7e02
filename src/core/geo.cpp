#include "core/geo.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/fields.hpp"

namespace herd {
namespace {

// A decimal number `D{1,max_int_digits}[.D+]` read from s at pos. The integer part is
// kept exactly up to kSaturate (every range herd checks is far below it; a bigger value,
// however many digits or leading zeros it has, reads as kSaturate), and whether the
// fraction has a non-zero digit, so ranges are checked on the digits without rounding.
constexpr long kSaturate = 1'000'000;

struct Decimal {
  long integer = 0;
  bool fraction_nonzero = false;
  bool negative = false;  // a coordinate's sign (read_coordinate)
  std::string_view text;  // the digits with leading zeros of the integer part removed
};

std::optional<Decimal> read_decimal(std::string_view s, std::size_t& pos,
                                    std::size_t max_int_digits) {
  const std::size_t start = pos;
  Decimal d;
  std::size_t digits = 0;
  std::size_t significant = start;  // first digit that is not a leading zero
  while (pos < s.size() && is_digit(s[pos])) {
    d.integer = std::min(kSaturate, d.integer * 10 + (s[pos] - '0'));
    if (d.integer == 0) significant = pos + 1;
    ++digits;
    ++pos;
  }
  if (digits == 0 || digits > max_int_digits) return std::nullopt;
  if (significant == pos) --significant;  // keep one zero of an all-zero integer part
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t frac = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      if (s[pos] != '0') d.fraction_nonzero = true;
      ++frac;
      ++pos;
    }
    if (frac == 0) return std::nullopt;
  }
  d.text = s.substr(significant, pos - significant);
  return d;
}

double to_double(std::string_view text) {
  double v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

// A signed coordinate `[+-]D{1,max_int_digits}[.D+]` within [-limit, limit], read from s
// at pos; its digits, or nothing if it is not one.
std::optional<Decimal> read_coordinate(std::string_view s, std::size_t& pos,
                                       std::size_t max_int_digits, long limit) {
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return std::nullopt;
  const bool negative = s[pos] == '-';
  ++pos;
  auto d = read_decimal(s, pos, max_int_digits);
  if (!d) return std::nullopt;
  d->negative = negative;
  if (d->integer > limit || (d->integer == limit && d->fraction_nonzero)) return std::nullopt;
  return d;
}

double degrees(const Decimal& d) {
  const double v = to_double(d.text);
  return d.negative ? -v : v;
}

}  // namespace

std::optional<Location> parse_location(std::string_view s) {
  std::size_t pos = 0;
  auto lat = read_coordinate(s, pos, 2, 90);
  if (!lat) return std::nullopt;
  auto lng = read_coordinate(s, pos, 3, 180);
  if (!lng || pos != s.size()) return std::nullopt;
  return Location{degrees(*lat), degrees(*lng)};
}

bool valid_location(std::string_view s) {
  std::size_t pos = 0;
  return read_coordinate(s, pos, 2, 90) && read_coordinate(s, pos, 3, 180) && pos == s.size();
}

std::optional<double> parse_radius_km(std::string_view s) {
  std::size_t pos = 0;
  auto d = read_decimal(s, pos, s.size());
  if (!d || pos != s.size()) return std::nullopt;
  if (d->integer > 50 || (d->integer == 50 && d->fraction_nonzero)) return std::nullopt;
  if (d->integer == 0 && !d->fraction_nonzero) return std::nullopt;
  // A radius above zero stays above zero even below what a double holds (0.000...01 with
  // hundreds of zeros), so no later step sees a zero radius the check refused.
  return std::max(to_double(d->text), std::numeric_limits<double>::min());
}

std::optional<int> parse_bound(std::string_view s) {
  if (s.empty()) return std::nullopt;
  long v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > kMaxBound) return std::nullopt;
  }
  if (v < 1) return std::nullopt;
  return static_cast<int>(v);
}

double distance_km(Location a, Location b) {
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  constexpr double kEarthKm = 6371.0088;
  const double dlat = (b.lat - a.lat) * kRad;
  const double dlng = (b.lng - a.lng) * kRad;
  const double h =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dlng / 2) * std::sin(dlng / 2);
  return 2 * kEarthKm * std::asin(std::sqrt(std::min(1.0, h)));
}

}  // namespace herd
