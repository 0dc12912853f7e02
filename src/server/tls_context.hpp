#pragma once
// The OpenSSL contexts of a server (PROTOCOL.md section 11), built from herd.toml's
// [tls] ca and the server's tls_cert/tls_key: one for links (TLS 1.3, both sides present
// a certificate that chains to the herd's CA) and one for the client TLS port (the
// server's certificate only). Loading reads files: never on a loop (at start, and on
// the signal thread at SIGHUP). A loaded set is immutable and shared by every loop;
// reload swaps in a new set for new connections, established ones keep theirs.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace herd {

struct TlsContexts {
  SSL_CTX* link = nullptr;     // dialling and accepting links
  SSL_CTX* clients = nullptr;  // the tls_port (null when the server has none)
  std::string summary;         // for the log: certificate subject and expiry
  TlsContexts() = default;
  TlsContexts(const TlsContexts&) = delete;
  TlsContexts& operator=(const TlsContexts&) = delete;
  ~TlsContexts();
};

// Builds the contexts, checking the files as check_tls_files does. Null with *error
// (naming the file and the problem) on failure.
std::shared_ptr<const TlsContexts> load_tls(const HerdConfig& cfg, const ServerConfig& self,
                                            std::string* error);

// herd --check: every problem with the TLS files of one server (readable, PEM, key
// matches the certificate, certificate chains to the CA, names the server, valid now),
// one message each naming the config key, the file and the problem.
std::vector<std::string> check_tls_files(const HerdConfig& cfg, const ServerConfig& self);

// The contexts new connections use. Any thread.
class TlsHolder {
 public:
  std::shared_ptr<const TlsContexts> get() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  void set(std::shared_ptr<const TlsContexts> c) {
    std::lock_guard lock(mu_);
    current_ = std::move(c);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const TlsContexts> current_;
};

}  // namespace herd
