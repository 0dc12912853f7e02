#pragma once
// Places JSON text helpers (PROTOCOL.md section 4). Pure.
#include <string>
#include <string_view>

namespace herd {

// Appends json with "\r\n" turned into "\n", every run of newlines collapsed to one,
// and leading and trailing white space removed. Does not add the final "\n\n".
void append_normalized_json(std::string& out, std::string_view json);

// Appends s as the body of a JSON string (no quotes): '"', '\\' and control bytes are
// escaped; other bytes are copied as they are.
void append_json_escaped(std::string& out, std::string_view s);

// The value of the last "status" member of a places JSON text ("?" if none); for logs
// and metrics, not validation.
std::string_view json_status_word(std::string_view json);

// The JSON object sent when a lookup fails: empty attributions and results, the status
// word and an error message.
std::string error_places_json(std::string_view status, std::string_view message);

}  // namespace herd
