// TLS (PROTOCOL.md section 11): the memory-BIO channel between two in-process peers with
// the server's real contexts (load_tls from PEM files), peer names, failures, and the
// checks of herd --check.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../common/temp_dir.hpp"
#include "../common/test_certs.hpp"
#include "core/tls_channel.hpp"
#include "server/tls_context.hpp"

using namespace herd;
using herd::test::KeyAndCert;
using herd::test::make_cert;
using herd::test::TempDir;

namespace {

// A herd of files: a CA and certificates, and the config naming them.
struct Herd {
  TempDir dir{"herd-unit-tls"};
  KeyAndCert ca = make_cert("test CA", nullptr, 365);
  HerdConfig cfg;
  Herd() {
    cfg.tls.enabled = true;
    cfg.tls.ca = dir / "ca.pem";
    test::write_pem(cfg.tls.ca, ca, false);
  }
  ServerConfig server(const std::string& name, const KeyAndCert& kc, std::uint16_t tls_port = 0) {
    ServerConfig s;
    s.name = name;
    s.tls_cert = dir / (name + ".pem");
    s.tls_key = dir / (name + ".key");
    s.tls_port = tls_port;
    test::write_pem(s.tls_cert, kc, false);
    test::write_pem(s.tls_key, kc, true);
    return s;
  }
  ServerConfig server(const std::string& name) {
    return server(name, make_cert(name, &ca, 30, name));
  }
  std::shared_ptr<const TlsContexts> load(const ServerConfig& s) {
    std::string error;
    auto c = load_tls(cfg, s, &error);
    INFO(error);
    REQUIRE(c);
    return c;
  }
};

// Moves output between the two channels until neither has any; plaintext each side got
// is appended to a_plain/b_plain. Returns false if a side failed.
bool pump(TlsChannel& a, TlsChannel& b, std::string& a_plain, std::string& b_plain) {
  for (int i = 0; i < 20; ++i) {
    std::string wire;
    a.take_output(wire);
    if (!wire.empty() && b.feed(wire.data(), wire.size(), b_plain) == TlsChannel::Status::failed)
      return false;
    std::string back;
    b.take_output(back);
    if (!back.empty() && a.feed(back.data(), back.size(), a_plain) == TlsChannel::Status::failed)
      return false;
    if (wire.empty() && back.empty()) return true;
  }
  return true;
}

}  // namespace

TEST_CASE("tls: a mutual TLS 1.3 link handshake, lines both ways, names checked") {
  Herd h;
  auto alford = h.load(h.server("Alford"));
  auto ball = h.load(h.server("Ball"));
  TlsChannel dialler(alford->link, TlsChannel::Role::client, "Ball");
  TlsChannel acceptor(ball->link, TlsChannel::Role::server);
  REQUIRE(dialler.valid());
  CHECK(dialler.start() == TlsChannel::Status::ok);
  std::string at_dialler, at_acceptor;
  REQUIRE(pump(dialler, acceptor, at_dialler, at_acceptor));
  CHECK(dialler.established());
  CHECK(acceptor.established());
  CHECK(acceptor.description().rfind("TLSv1.3 ", 0) == 0);
  CHECK(acceptor.peer_names("Alford"));
  CHECK_FALSE(acceptor.peer_names("Holiday"));
  CHECK(dialler.peer_names("Ball"));
  CHECK(acceptor.peer_subject().find("CN=Alford") != std::string::npos);

  // Many small parts are packed into full records, not one record each.
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i)
    lines.push_back("AT Alford +0.1 c" + std::to_string(i) + " +1+1 1\n");
  std::vector<std::string_view> parts(lines.begin(), lines.end());
  std::size_t plain_bytes = 0;
  for (const auto& l : lines) plain_bytes += l.size();
  REQUIRE(dialler.write(parts.data(), parts.size()) == TlsChannel::Status::ok);
  std::string wire;
  dialler.take_output(wire);
  CHECK(wire.size() < plain_bytes + 64 * (plain_bytes / 16384 + 1));
  std::string got;
  REQUIRE(acceptor.feed(wire.data(), wire.size(), got) == TlsChannel::Status::ok);
  std::string all;
  for (const auto& l : lines) all += l;
  CHECK(got == all);

  // A record split anywhere is held until its rest arrives.
  REQUIRE(acceptor.write("HERD-OK Ball\n") == TlsChannel::Status::ok);
  wire.clear();
  acceptor.take_output(wire);
  std::string part;
  CHECK(dialler.feed(wire.data(), 3, part) == TlsChannel::Status::ok);
  CHECK(part.empty());
  CHECK(dialler.feed(wire.data() + 3, wire.size() - 3, part) == TlsChannel::Status::ok);
  CHECK(part == "HERD-OK Ball\n");

  // close_notify: the plaintext before it arrives, then the channel says closed.
  REQUIRE(dialler.write("last\n") == TlsChannel::Status::ok);
  dialler.shutdown();
  wire.clear();
  dialler.take_output(wire);
  got.clear();
  CHECK(acceptor.feed(wire.data(), wire.size(), got) == TlsChannel::Status::closed);
  CHECK(got == "last\n");
  CHECK(acceptor.peer_closed());
  // The other direction still works after the peer's close_notify (a half-close).
  CHECK(acceptor.write("reply\n") == TlsChannel::Status::ok);
  wire.clear();
  acceptor.take_output(wire);
  got.clear();
  CHECK(dialler.feed(wire.data(), wire.size(), got) == TlsChannel::Status::ok);
  CHECK(got == "reply\n");
}

TEST_CASE("tls: a dialled server whose certificate names another server fails the handshake") {
  Herd h;
  auto alford = h.load(h.server("Alford"));
  auto welsh = h.load(h.server("Welsh"));
  TlsChannel dialler(alford->link, TlsChannel::Role::client, "Holiday");
  TlsChannel acceptor(welsh->link, TlsChannel::Role::server);
  dialler.start();
  std::string a, b;
  CHECK_FALSE(pump(dialler, acceptor, a, b));
  CHECK_FALSE(dialler.established());
  CHECK(dialler.error().find("hostname mismatch") != std::string::npos);
}

TEST_CASE("tls: a peer certificate from another CA, or expired, fails verification") {
  Herd h;
  auto ball = h.load(h.server("Ball"));
  KeyAndCert other_ca = make_cert("other CA", nullptr, 365);
  for (auto [cert, why] :
       {std::pair{make_cert("Alford", &other_ca, 30, "Alford"), "unable to get local issuer"},
        std::pair{make_cert("Alford", &h.ca, -1, "Alford"), "certificate has expired"}}) {
    SSL_CTX* bad = test::make_link_context(h.ca, cert);
    TlsChannel dialler(bad, TlsChannel::Role::client);
    TlsChannel acceptor(ball->link, TlsChannel::Role::server);
    SSL_CTX_free(bad);  // the channel holds a reference
    dialler.start();
    std::string a, b;
    CHECK_FALSE(pump(dialler, acceptor, a, b));
    CHECK_FALSE(acceptor.established());
    INFO(acceptor.error());
    CHECK(acceptor.error().find(why) != std::string::npos);
  }
}

TEST_CASE("tls: garbage, plaintext and writes before the handshake fail without crashing") {
  Herd h;
  auto ball = h.load(h.server("Ball"));
  for (std::string input :
       {std::string("HERD-HELLO Alford Ball abab\n"), std::string("\x16\x03\x01\x00\x05hello", 10),
        std::string("\x16\x03\x03\xff\xff") + std::string(70000, 'x'),
        std::string("\x17\x03\x03\x00\x10") + std::string(16, '\0')}) {
    TlsChannel acceptor(ball->link, TlsChannel::Role::server);
    std::string plain;
    CHECK(acceptor.feed(input.data(), input.size(), plain) == TlsChannel::Status::failed);
    CHECK(plain.empty());
    CHECK_FALSE(acceptor.error().empty());
    CHECK(acceptor.feed("x", 1, plain) == TlsChannel::Status::failed);
    CHECK(acceptor.write("x") == TlsChannel::Status::failed);
  }
  TlsChannel fresh(ball->link, TlsChannel::Role::server);
  CHECK(fresh.write("early") == TlsChannel::Status::failed);
}

TEST_CASE("tls: the client port takes TLS 1.2 without a client certificate; links take 1.3 only") {
  Herd h;
  auto ball = h.load(h.server("Ball", make_cert("Ball", &h.ca, 30, "Ball"), 12345));
  REQUIRE(ball->clients);
  SSL_CTX* v12 = SSL_CTX_new(TLS_method());
  SSL_CTX_set_max_proto_version(v12, TLS1_2_VERSION);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(v12), h.ca.cert.get());
  SSL_CTX_set_verify(v12, SSL_VERIFY_PEER, nullptr);
  {
    TlsChannel client(v12, TlsChannel::Role::client, "Ball");
    TlsChannel server(ball->clients, TlsChannel::Role::server);
    client.start();
    std::string a, b;
    CHECK(pump(client, server, a, b));
    CHECK(server.established());
    CHECK(server.description().rfind("TLSv1.2 ", 0) == 0);
  }
  {
    TlsChannel client(v12, TlsChannel::Role::client, "Ball");
    TlsChannel server(ball->link, TlsChannel::Role::server);
    client.start();
    std::string a, b;
    CHECK_FALSE(pump(client, server, a, b));
    CHECK_FALSE(server.established());
  }
  SSL_CTX_free(v12);
}

TEST_CASE("tls: a certificate names a server by its DNS subjectAltName, else its common name") {
  KeyAndCert ca = make_cert("CA", nullptr, 365);
  CHECK(certificate_names(make_cert("Ball", &ca, 30, "Ball").cert.get(), "Ball"));
  CHECK(certificate_names(make_cert("Ball", &ca, 30, "").cert.get(), "Ball"));
  // With a DNS entry the common name is not looked at.
  CHECK_FALSE(certificate_names(make_cert("Ball", &ca, 30, "Welsh").cert.get(), "Ball"));
  CHECK_FALSE(certificate_names(make_cert("Ball", &ca, 30, "*.herd").cert.get(), "x.herd"));
  CHECK_FALSE(certificate_names(make_cert("Ball", &ca, 30, "Ball").cert.get(), ""));
  CHECK_FALSE(certificate_names(nullptr, "Ball"));
}

TEST_CASE("tls: check_tls_files names the file and the problem") {
  Herd h;
  KeyAndCert other_ca = make_cert("other CA", nullptr, 365);
  auto problems_of = [&](const ServerConfig& s) {
    std::string all;
    for (const auto& p : check_tls_files(h.cfg, s)) all += p + "\n";
    return all;
  };
  CHECK(problems_of(h.server("Ball")).empty());
  CHECK(problems_of(h.server("Ball", make_cert("Ball", &h.ca, -1, "Ball")))
            .find("Ball.pem: the certificate expired on ") != std::string::npos);
  CHECK(problems_of(h.server("Ball", make_cert("Ball", &other_ca, 30, "Ball")))
            .find("unable to get local issuer certificate") != std::string::npos);
  CHECK(problems_of(h.server("Ball", make_cert("Welsh", &h.ca, 30, "Welsh")))
            .find("does not name server \"Ball\"") != std::string::npos);
  ServerConfig mismatched = h.server("Ball");
  test::write_pem(mismatched.tls_key, make_cert("Ball", &h.ca, 30, "Ball"), true);
  CHECK(problems_of(mismatched).find("Ball.key: does not match the certificate") !=
        std::string::npos);
  ServerConfig missing = h.server("Ball");
  missing.tls_key = h.dir / "nope.key";
  CHECK(problems_of(missing).find("nope.key: cannot read it: No such file or directory") !=
        std::string::npos);
  std::string error;
  CHECK_FALSE(load_tls(h.cfg, missing, &error));
  CHECK(error.find("nope.key") != std::string::npos);
  h.cfg.tls.ca = h.dir / "Ball.key";
  CHECK(problems_of(h.server("Ball")).find("Ball.key: holds no PEM certificate") !=
        std::string::npos);
}
