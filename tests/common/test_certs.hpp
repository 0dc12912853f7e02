#pragma once
// Certificates made in memory for the unit tests and the TLS fuzzer: a CA and leaf
// certificates signed by it (EC P-256), written to PEM files when a test needs files.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace herd::test {

struct KeyAndCert {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
};

inline void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("bad extension");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn`, signed by `issuer` (self-signed CA when issuer is null), valid
// from an hour ago for `days` days (negative: expired). san: a DNS subjectAltName, or none.
inline KeyAndCert make_cert(const std::string& cn, const KeyAndCert* issuer, long days = 30,
                            const std::string& san = "") {
  static long serial = 1;
  std::shared_ptr<EVP_PKEY> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::shared_ptr<X509> x(X509_new(), X509_free);
  if (!key || !x) throw std::runtime_error("out of memory");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), days < 0 ? days * 86400 * 2 : -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), days * 86400);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : x.get();
  X509_set_issuer_name(x.get(), X509_get_subject_name(issuer_cert));
  if (!issuer) {
    add_ext(x.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), issuer_cert, NID_basic_constraints, "CA:FALSE");
    add_ext(x.get(), issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
    if (!san.empty()) add_ext(x.get(), issuer_cert, NID_subject_alt_name, ("DNS:" + san).c_str());
  }
  if (X509_sign(x.get(), issuer ? issuer->key.get() : key.get(), EVP_sha256()) == 0)
    throw std::runtime_error("cannot sign");
  return {key, x};
}

inline void write_pem(const std::string& path, const KeyAndCert& kc, bool key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  if (key) {
    PEM_write_PrivateKey(f, kc.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_X509(f, kc.cert.get());
  }
  std::fclose(f);
}

// A link context like the server's (TLS 1.3, mutual verification against ca).
inline SSL_CTX* make_link_context(const KeyAndCert& ca, const KeyAndCert& self) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_use_certificate(ctx, self.cert.get());
  SSL_CTX_use_PrivateKey(ctx, self.key.get());
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca.cert.get());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

}  // namespace herd::test
