#pragma once
// URL pieces for upstream requests. Pure.
#include <string>
#include <string_view>

namespace herd {

// Percent-encodes everything but RFC 3986's unreserved characters.
void append_url_encoded(std::string& out, std::string_view s);
// The host of an http:// or https:// URL ("" when there is none).
std::string_view url_host(std::string_view url);
// base, then '?' or '&' (whichever joins a query onto it), then query.
std::string url_with_query(std::string_view base, std::string_view query);

}  // namespace herd
