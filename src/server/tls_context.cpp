#include "server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/tls_channel.hpp"

namespace herd {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

// Encrypted keys are refused rather than prompting on a terminal.
int no_password(char*, int, int, void*) {
  return 0;
}

std::string openssl_errors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (!text.empty()) text += "; ";
    text += reason ? reason : "unknown error";
  }
  return text;
}

bool read_file(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::string("cannot read it: ") + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::vector<X509Ptr> parse_certs(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr))
    certs.emplace_back(x, X509_free);
  ERR_clear_error();  // the end of the file reads as an error
  return certs;
}

std::string time_text(const ASN1_TIME* t) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) return "?";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// "" if the certificate is valid now, else why not.
std::string validity_problem(const X509* cert) {
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    return "expired on " + time_text(X509_get0_notAfter(cert));
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
    return "not valid before " + time_text(X509_get0_notBefore(cert));
  return "";
}

std::string subject_of(const X509* cert) {
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

// Why the chain does not verify against the CA for a purpose, or "".
std::string verify_problem(const std::vector<X509Ptr>& ca, const std::vector<X509Ptr>& chain,
                           int purpose) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_free(s); });
  if (!store || !ctx || !untrusted) return "out of memory";
  for (const auto& c : ca) X509_STORE_add_cert(store.get(), c.get());
  for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i].get());
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1)
    return "cannot verify: " + openssl_errors();
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1) return "";
  ERR_clear_error();
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

SSL_CTX* make_context(const HerdConfig& cfg, const ServerConfig& self, bool links,
                      std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  auto failed = [&](const std::string& what) {
    *error = what + ": " + openssl_errors();
    if (ctx) SSL_CTX_free(ctx);
    return nullptr;
  };
  if (!ctx) return failed("cannot create a TLS context");
  // Links are TLS 1.3 only (PROTOCOL.md section 11); clients may also use TLS 1.2.
  SSL_CTX_set_min_proto_version(ctx, links ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_default_passwd_cb(ctx, no_password);
  if (SSL_CTX_use_certificate_chain_file(ctx, self.tls_cert.c_str()) != 1)
    return failed(self.tls_cert);
  if (SSL_CTX_use_PrivateKey_file(ctx, self.tls_key.c_str(), SSL_FILETYPE_PEM) != 1)
    return failed(self.tls_key);
  if (SSL_CTX_check_private_key(ctx) != 1)
    return failed(self.tls_key + " does not match " + self.tls_cert);
  if (links) {
    if (SSL_CTX_load_verify_locations(ctx, cfg.tls.ca.c_str(), nullptr) != 1)
      return failed(cfg.tls.ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_verify_depth(ctx, 8);
  } else {
    // Thousands of mostly idle clients: no 34 KiB of record buffers per connection while
    // nothing is in flight (links are few and busy: they keep theirs).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  }
  return ctx;
}

}  // namespace

TlsContexts::~TlsContexts() {
  if (link) SSL_CTX_free(link);
  if (clients) SSL_CTX_free(clients);
}

std::vector<std::string> check_tls_files(const HerdConfig& cfg, const ServerConfig& self) {
  std::vector<std::string> problems;
  if (!cfg.tls.enabled) return problems;
  auto problem = [&](const std::string& key, const std::string& file, const std::string& what) {
    problems.push_back(key + " " + file + ": " + what);
  };
  const std::string who = "server \"" + self.name + "\" ";
  std::string text, why;
  std::vector<X509Ptr> ca;
  if (!read_file(cfg.tls.ca, text, why)) {
    problem("tls.ca", cfg.tls.ca, why);
  } else if ((ca = parse_certs(text)).empty()) {
    problem("tls.ca", cfg.tls.ca, "holds no PEM certificate");
  } else if (std::string v = validity_problem(ca[0].get()); !v.empty()) {
    problem("tls.ca", cfg.tls.ca, "the CA certificate " + v);
  }
  std::vector<X509Ptr> chain;
  if (!read_file(self.tls_cert, text, why)) {
    problem(who + "tls_cert", self.tls_cert, why);
  } else if ((chain = parse_certs(text)).empty()) {
    problem(who + "tls_cert", self.tls_cert, "holds no PEM certificate");
  }
  KeyPtr key(nullptr, EVP_PKEY_free);
  if (!read_file(self.tls_key, text, why)) {
    problem(who + "tls_key", self.tls_key, why);
  } else {
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
    key.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr) : nullptr);
    ERR_clear_error();
    if (!key) problem(who + "tls_key", self.tls_key, "holds no unencrypted PEM private key");
  }
  if (chain.empty()) return problems;
  X509* leaf = chain[0].get();
  if (key && X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    problem(who + "tls_key", self.tls_key,
            "does not match the certificate in " + self.tls_cert + " (" + subject_of(leaf) + ")");
  }
  if (std::string v = validity_problem(leaf); !v.empty()) {
    problem(who + "tls_cert", self.tls_cert, "the certificate " + v);
  }
  if (!certificate_names(leaf, self.name)) {
    problem(who + "tls_cert", self.tls_cert,
            "does not name server \"" + self.name +
                "\" (no subjectAltName DNS entry, or common name without any, equals it; the "
                "certificate is " +
                subject_of(leaf) + ")");
  }
  if (!ca.empty()) {
    // Links use the certificate both ways: as a TLS server and as a TLS client.
    for (auto [purpose, role] : {std::pair{X509_PURPOSE_SSL_SERVER, "server"},
                                 std::pair{X509_PURPOSE_SSL_CLIENT, "client"}}) {
      if (std::string v = verify_problem(ca, chain, purpose); !v.empty()) {
        problem(who + "tls_cert", self.tls_cert,
                std::string("does not verify as a TLS ") + role + " certificate against tls.ca " +
                    cfg.tls.ca + ": " + v);
        break;
      }
    }
  }
  return problems;
}

std::shared_ptr<const TlsContexts> load_tls(const HerdConfig& cfg, const ServerConfig& self,
                                            std::string* error) {
  std::vector<std::string> problems = check_tls_files(cfg, self);
  if (!problems.empty()) {
    *error = problems[0];
    for (std::size_t i = 1; i < problems.size(); ++i) *error += "; " + problems[i];
    return nullptr;
  }
  auto set = std::make_shared<TlsContexts>();
  set->link = make_context(cfg, self, true, error);
  if (!set->link) return nullptr;
  if (self.tls_port != 0) {
    set->clients = make_context(cfg, self, false, error);
    if (!set->clients) return nullptr;
  }
  X509* leaf = SSL_CTX_get0_certificate(set->link);
  set->summary = "certificate " + subject_of(leaf) + " expiring " +
                 time_text(X509_get0_notAfter(leaf)) + ", CA " + cfg.tls.ca;
  return set;
}

}  // namespace herd
