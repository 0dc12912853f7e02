#include "server/links_entry.hpp"

namespace herd {

bool is_link_hello(std::string_view line) {
  return line.rfind("HERD-HELLO ", 0) == 0;
}

bool hand_over_to_links(ServerContext& ctx, uv_tcp_t*, std::string_view) {
  return ctx.links != nullptr && false;
}

void flood_record(ServerContext&, const RecordRef&) {}

}  // namespace herd
