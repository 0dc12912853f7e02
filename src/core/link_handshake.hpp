#pragma once
// The link handshake (PROTOCOL.md section 6), as pure functions over lines.
//
//   dialler  -> acceptor  HERD-HELLO <dialler> <acceptor> <nonce_d>
//   with a secret:
//   acceptor -> dialler   HERD-CHALLENGE <acceptor> <nonce_a> <proof_a>
//   dialler  -> acceptor  HERD-PROVE <proof_d>
//   acceptor -> dialler   HERD-OK <acceptor>
//   without a secret (development mode) the acceptor answers HELLO with HERD-OK at once.
//   A refusal is "HERD-DENIED <reason>" followed by a close.
//
//   A server that starts also sends "HERD-WAKE <sender> <receiver>" on a short-lived
//   connection to each neighbour that dials it: the neighbour dials at once instead of
//   waiting out its backoff. A wake carries no authority: it can only make a server dial
//   one of its configured neighbours sooner.
//
// proof_a = HMAC-SHA256(secret, "acceptor|<dialler>|<acceptor>|<nonce_d>|<nonce_a>") and
// proof_d = HMAC-SHA256(secret, "dialler|<dialler>|<acceptor>|<nonce_a>|<nonce_d>"), in
// lower-case hex. Each side proves knowledge of the secret over a nonce the other side
// just chose, so a captured handshake cannot be replayed. After HERD-OK both sides send
// AT lines only. The dialler sends nothing after HELLO or PROVE until it gets an answer.
#include <string>
#include <string_view>

namespace herd {

enum class LinkLineKind { hello, challenge, prove, ok, denied, wake, other };

struct LinkLine {
  LinkLineKind kind = LinkLineKind::other;
  std::string_view a, b, c;  // fields after the keyword, in order
};

LinkLine parse_link_line(std::string_view line);

// 32 lower-case hex digits from a cryptographic random source.
std::string make_nonce();

enum class ProofRole { acceptor, dialler };

// The proof a side sends (see above), in lower-case hex (64 digits).
std::string link_proof(std::string_view secret, ProofRole role, std::string_view dialler,
                       std::string_view acceptor, std::string_view nonce_d,
                       std::string_view nonce_a);

// Constant-time comparison of a received proof with the expected one.
bool proof_matches(std::string_view expected, std::string_view received);

// A nonce as the handshake accepts it: 32 to 64 hex digits.
bool valid_nonce(std::string_view nonce);

}  // namespace herd
