// The link handshake's pure parts (PROTOCOL.md section 6).
#include <doctest/doctest.h>

#include "core/link_handshake.hpp"

using namespace herd;

TEST_CASE("handshake lines parse by keyword and field count") {
  auto l = parse_link_line("HERD-HELLO Alford Hamilton 0123456789abcdef0123456789abcdef");
  CHECK(l.kind == LinkLineKind::hello);
  CHECK(l.a == "Alford");
  CHECK(l.b == "Hamilton");
  CHECK(l.c == "0123456789abcdef0123456789abcdef");
  CHECK(parse_link_line("HERD-CHALLENGE Hamilton n p").kind == LinkLineKind::challenge);
  CHECK(parse_link_line("HERD-PROVE p").kind == LinkLineKind::prove);
  CHECK(parse_link_line("HERD-OK Hamilton").kind == LinkLineKind::ok);
  auto d = parse_link_line("HERD-DENIED bad proof of the secret");
  CHECK(d.kind == LinkLineKind::denied);
  CHECK(d.a == "bad proof of the secret");
  CHECK(parse_link_line("HERD-HELLO Alford Hamilton").kind == LinkLineKind::other);
  CHECK(parse_link_line("HERD-PROVE a b").kind == LinkLineKind::other);
  CHECK(parse_link_line("herd-ok x").kind == LinkLineKind::other);
  CHECK(parse_link_line("").kind == LinkLineKind::other);
}

TEST_CASE("nonces are fresh 32-digit hex") {
  std::string a = make_nonce(), b = make_nonce();
  CHECK(a.size() == 32);
  CHECK(valid_nonce(a));
  CHECK(a != b);
  CHECK_FALSE(valid_nonce("xyz"));
  CHECK_FALSE(valid_nonce(std::string(31, 'a')));
  CHECK_FALSE(valid_nonce(std::string(32, 'A')));
}

TEST_CASE("proofs: HMAC-SHA256 test vector, roles and nonces change the proof") {
  // HMAC-SHA256(key="key", "acceptor|A|B|n1|n2"), computed independently with Python's hmac.
  const std::string acceptor = link_proof("key", ProofRole::acceptor, "A", "B", "n1", "n2");
  CHECK(acceptor == "eeafa27d23e7e70ca2c8b502f3057b4f7bf565dfa34f5bc01727edb0c9cc1ae1");
  // HMAC-SHA256(key="key", "dialler|A|B|n2|n1"): the dialler signs the acceptor's nonce first.
  const std::string dialler = link_proof("key", ProofRole::dialler, "A", "B", "n1", "n2");
  CHECK(dialler == "cab340aad80a6a76aa86368567aae313c79686d5b442d69f1a7cbb83b424ca58");
  CHECK(link_proof("key", ProofRole::dialler, "A", "B", "n1", "n3") != dialler);
  CHECK(link_proof("other", ProofRole::dialler, "A", "B", "n1", "n2") != dialler);
  CHECK(proof_matches(dialler, dialler));
  CHECK_FALSE(proof_matches(dialler, acceptor));
  CHECK_FALSE(proof_matches(dialler, dialler.substr(1)));
  CHECK_FALSE(proof_matches(dialler, ""));
}
