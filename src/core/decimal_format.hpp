#pragma once
// Numbers written as decimal text without a fixed-size buffer overrun, whatever the value
// (PROTOCOL.md section 10: no value is formatted into a fixed buffer without a bound).
// Pure.
#include <string>

namespace herd {

enum class TrailingZeros {
  keep_one,  // "12.5", "3.0": at least one digit after the point (a JSON number)
  drop_all,  // "12.5", "3": the point goes too when nothing follows it
};

// Appends v with at most `decimals` (0 to 17) digits after the point, trailing zeros
// trimmed as asked. Values of magnitude 1e15 and above are written in the shortest form
// that reads back exactly (an exponent, still a valid JSON number); a NaN or an infinity
// is written as "null".
void append_decimal(std::string& out, double v, int decimals, TrailingZeros zeros);

}  // namespace herd
