// The TLS glue's record handling (core/tls_channel): whatever bytes a peer sends, in
// whatever pieces, a channel fails cleanly or hands over plaintext; it never crashes,
// leaks or holds more than it was given. The first byte picks the case:
//   even: the bytes are a dialler's first flight to an accepting link (handshake records);
//   odd:  a real handshake is done first, then the bytes arrive as records on the
//         established connection (record headers, lengths, fragments, alerts).
// The next byte sets the piece size the input is fed in.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../common/test_certs.hpp"
#include "core/tls_channel.hpp"

namespace {

struct Contexts {
  SSL_CTX* server;
  SSL_CTX* client;
  Contexts() {
    auto ca = herd::test::make_cert("fuzz CA", nullptr, 365);
    auto ball = herd::test::make_cert("Ball", &ca, 30, "Ball");
    auto alford = herd::test::make_cert("Alford", &ca, 30, "Alford");
    server = herd::test::make_link_context(ca, ball);
    client = herd::test::make_link_context(ca, alford);
  }
};

bool pump(herd::TlsChannel& a, herd::TlsChannel& b) {
  std::string plain;
  for (int i = 0; i < 8; ++i) {
    std::string wire, back;
    a.take_output(wire);
    if (!wire.empty() &&
        b.feed(wire.data(), wire.size(), plain) == herd::TlsChannel::Status::failed)
      return false;
    b.take_output(back);
    if (!back.empty() &&
        a.feed(back.data(), back.size(), plain) == herd::TlsChannel::Status::failed)
      return false;
    if (wire.empty() && back.empty()) break;
  }
  return a.established() && b.established();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Contexts contexts;
  if (size < 2) return 0;
  const bool established = data[0] & 1;
  const std::size_t piece = 1 + data[1] % 64 * 37;
  data += 2;
  size -= 2;
  herd::TlsChannel server(contexts.server, herd::TlsChannel::Role::server);
  herd::TlsChannel client(contexts.client, herd::TlsChannel::Role::client, "Ball");
  if (established) {
    client.start();
    if (!pump(client, server)) __builtin_trap();  // a real handshake must succeed
  }
  std::string plain;
  for (std::size_t at = 0; at < size; at += piece) {
    const std::size_t n = size - at < piece ? size - at : piece;
    auto st = server.feed(reinterpret_cast<const char*>(data) + at, n, plain);
    if (plain.size() > size) __builtin_trap();  // never more plaintext than ciphertext
    if (st != herd::TlsChannel::Status::ok) break;
    std::string out;
    server.take_output(out);
  }
  if (server.established()) server.write("AT Ball +0.1 x +1+1 1\n");
  std::string out;
  server.take_output(out);
  return 0;
}
