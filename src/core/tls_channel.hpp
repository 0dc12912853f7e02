#pragma once
// One TLS connection over memory buffers (PROTOCOL.md section 11): OpenSSL with two
// memory BIOs and no I/O of its own. The owner feeds it the ciphertext it read, gets the
// plaintext back, hands it plaintext to send, and writes whatever output() holds
// (handshake messages, records, alerts) to the socket. Used by the links and by the
// client TLS port through a libuv stream; unit-tested and fuzzed on its own.
//
// Bounded: feed() decrypts everything it was given (the rest of a partial record stays
// inside, at most one record), so what it holds is bounded by the caller's reads.
// Not thread-safe: a channel belongs to one connection (it may move between threads
// when nothing else uses it).
#include <cstddef>
#include <string>
#include <string_view>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace herd {

class TlsChannel {
 public:
  enum class Role { client, server };
  enum class Status {
    ok,      // go on (the handshake may still be in progress)
    closed,  // the peer sent close_notify: no more plaintext comes
    failed,  // a protocol, certificate or internal error (error() says which)
  };

  // ctx is up-referenced for the channel's life. A client checks that the server's
  // certificate names expect_name (subjectAltName DNS entry, or the common name when
  // there is none; no wildcards) unless it is empty.
  TlsChannel(SSL_CTX* ctx, Role role, std::string_view expect_name = {});
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // False if OpenSSL could not make the connection object (error() says why).
  bool valid() const { return ssl_ != nullptr; }

  // A client's first flight (ClientHello) into output(); nothing for a server.
  Status start();

  // Ciphertext from the peer. Decrypted application bytes are appended to plain.
  Status feed(const char* data, std::size_t len, std::string& plain);

  // Encrypts application bytes into output(). Parts are packed into full records
  // (16 KiB), however small each is. Only once established().
  Status write(const std::string_view* parts, std::size_t count);
  Status write(std::string_view plain) { return write(&plain, 1); }

  // Queues close_notify (once).
  void shutdown();

  // Ciphertext to send: appended to out, and cleared here.
  bool has_output() const;
  void take_output(std::string& out);

  bool established() const { return established_; }
  bool peer_closed() const { return peer_closed_; }
  const std::string& error() const { return error_; }

  // After the handshake: whether the peer's certificate names `name` (the same rule as
  // for expect_name). False without a peer certificate.
  bool peer_names(std::string_view name) const;
  // The peer certificate's subject, for logs ("-" without one).
  std::string peer_subject() const;
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs.
  std::string description() const;

 private:
  Status fail(const char* what, int ret);
  Status handshake();

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (owned by ssl_)
  BIO* out_ = nullptr;  // ciphertext to the peer (owned by ssl_)
  bool established_ = false;
  bool peer_closed_ = false;
  bool shut_ = false;
  std::string error_;
  std::string staging_;  // small parts packed into full records
};

// Whether a certificate names a server: X509_check_host without wildcards (a DNS
// subjectAltName, or the common name when there is none).
bool certificate_names(const void* x509, std::string_view name);

}  // namespace herd
