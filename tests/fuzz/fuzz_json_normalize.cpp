// Fuzzes the JSON text normalisation of WHATSAT replies (PROTOCOL.md section 4) against a
// literal reading of the rule: "\r\n" becomes "\n", then runs of newlines become one,
// then leading and trailing white space goes.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/fields.hpp"
#include "core/places_json.hpp"

using namespace herd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::string out;
  append_normalized_json(out, in);
  std::string crlf;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
    crlf.push_back(in[i]);
  }
  std::string collapsed;
  for (char c : crlf) {
    if (c == '\n' && !collapsed.empty() && collapsed.back() == '\n') continue;
    collapsed.push_back(c);
  }
  if (out != std::string(trim(collapsed))) std::abort();
  std::string esc;
  append_json_escaped(esc, in);
  for (char c : esc) {
    if (static_cast<unsigned char>(c) < 0x20) std::abort();
  }
  return 0;
}
