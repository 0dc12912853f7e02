#pragma once
// Escaping of untrusted bytes for the log (PROTOCOL.md section 7). Pure.
#include <string>
#include <string_view>

namespace herd {

// Appends s with control bytes (0x00-0x1f, 0x7f) written as \n, \r, \t or \xHH and a
// backslash doubled, so one logged line is always one line of the file and the escape
// is unambiguous. Other bytes (UTF-8 included) are copied as they are.
void append_log_escaped(std::string& out, std::string_view s);

inline std::string log_escaped(std::string_view s) {
  std::string out;
  append_log_escaped(out, s);
  return out;
}

}  // namespace herd
