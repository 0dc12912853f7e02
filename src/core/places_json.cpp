#include "core/places_json.hpp"

#include "core/fields.hpp"

namespace herd {

void append_normalized_json(std::string& out, std::string_view json) {
  json = trim(json);
  out.reserve(out.size() + json.size());
  bool last_newline = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '\r' && i + 1 < json.size() && json[i + 1] == '\n') continue;
    if (c == '\n') {
      if (last_newline) continue;
      last_newline = true;
    } else {
      last_newline = false;
    }
    out.push_back(c);
  }
}

void append_json_escaped(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
}

std::string_view json_status_word(std::string_view json) {
  std::size_t k = json.rfind("\"status\"");
  if (k == std::string_view::npos) return "?";
  std::size_t colon = json.find(':', k);
  if (colon == std::string_view::npos) return "?";
  std::size_t q1 = json.find('"', colon + 1);
  if (q1 == std::string_view::npos) return "?";
  std::size_t q2 = json.find('"', q1 + 1);
  if (q2 == std::string_view::npos) return "?";
  return json.substr(q1 + 1, q2 - q1 - 1);
}

std::string error_places_json(std::string_view status, std::string_view message) {
  std::string out = "{\n   \"error_message\" : \"";
  append_json_escaped(out, message);
  out += "\",\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"";
  append_json_escaped(out, status);
  out += "\"\n}";
  return out;
}

}  // namespace herd
