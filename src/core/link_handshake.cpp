#include "core/link_handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "core/fields.hpp"

namespace herd {
namespace {

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

}  // namespace

LinkLine parse_link_line(std::string_view line) {
  auto f = split_fields<5>(line);
  LinkLine out;
  if (f.count == 0) return out;
  std::string_view k = f.field[0];
  auto take = [&](std::size_t n, LinkLineKind kind) {
    if (f.count != n + 1) return;
    out.kind = kind;
    if (n > 0) out.a = f.field[1];
    if (n > 1) out.b = f.field[2];
    if (n > 2) out.c = f.field[3];
  };
  if (k == "HERD-HELLO") {
    take(3, LinkLineKind::hello);
  } else if (k == "HERD-CHALLENGE") {
    take(3, LinkLineKind::challenge);
  } else if (k == "HERD-PROVE") {
    take(1, LinkLineKind::prove);
  } else if (k == "HERD-OK") {
    take(1, LinkLineKind::ok);
  } else if (k == "HERD-WAKE") {
    take(2, LinkLineKind::wake);
  } else if (k == "HERD-DENIED") {
    out.kind = LinkLineKind::denied;
    out.a = trim(line.substr(static_cast<std::size_t>(k.data() + k.size() - line.data())));
  }
  return out;
}

std::string make_nonce() {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
  return to_hex(buf, sizeof buf);
}

std::string link_proof(std::string_view secret, ProofRole role, std::string_view dialler,
                       std::string_view acceptor, std::string_view nonce_d,
                       std::string_view nonce_a) {
  std::string msg;
  if (role == ProofRole::acceptor) {
    msg.append("acceptor|")
        .append(dialler)
        .append("|")
        .append(acceptor)
        .append("|")
        .append(nonce_d)
        .append("|")
        .append(nonce_a);
  } else {
    msg.append("dialler|")
        .append(dialler)
        .append("|")
        .append(acceptor)
        .append("|")
        .append(nonce_a)
        .append("|")
        .append(nonce_d);
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len)) {
    throw std::runtime_error("HMAC failed");
  }
  return to_hex(mac, len);
}

bool proof_matches(std::string_view expected, std::string_view received) {
  return expected.size() == received.size() &&
         CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

bool valid_nonce(std::string_view nonce) {
  if (nonce.size() < 32 || nonce.size() > 64) return false;
  for (char c : nonce) {
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

}  // namespace herd
