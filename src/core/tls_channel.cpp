#include "core/tls_channel.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <climits>

namespace herd {
namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeepStagingBytes = 256 * 1024;

// The OpenSSL errors queued on this thread, as one line (and the queue cleared).
std::string drain_errors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    char buf[256];
    if (!reason) {
      ERR_error_string_n(e, buf, sizeof buf);
      reason = buf;
    }
    if (!text.empty()) text += "; ";
    text += reason;
  }
  return text;
}

}  // namespace

bool certificate_names(const void* x509, std::string_view name) {
  if (!x509 || name.empty()) return false;
  return X509_check_host(const_cast<X509*>(static_cast<const X509*>(x509)), name.data(),
                         name.size(), X509_CHECK_FLAG_NO_WILDCARDS, nullptr) == 1;
}

TlsChannel::TlsChannel(SSL_CTX* ctx, Role role, std::string_view expect_name) {
  ERR_clear_error();
  ssl_ = SSL_new(ctx);
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_) {
    error_ = "cannot create a TLS connection: " + drain_errors();
    if (ssl_) SSL_free(ssl_);
    if (in_) BIO_free(in_);
    if (out_) BIO_free(out_);
    ssl_ = nullptr;
    in_ = out_ = nullptr;
    return;
  }
  // An empty memory BIO means "no data yet", not end of file.
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);
  if (role == Role::client) {
    SSL_set_connect_state(ssl_);
    if (!expect_name.empty()) {
      SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_WILDCARDS);
      if (SSL_set1_host(ssl_, std::string(expect_name).c_str()) != 1) {
        error_ = "cannot set the expected peer name: " + drain_errors();
        SSL_free(ssl_);
        ssl_ = nullptr;
        in_ = out_ = nullptr;
      }
    }
  } else {
    SSL_set_accept_state(ssl_);
  }
}

TlsChannel::~TlsChannel() {
  if (ssl_) SSL_free(ssl_);  // frees both BIOs
}

TlsChannel::Status TlsChannel::fail(const char* what, int ret) {
  const int code = SSL_get_error(ssl_, ret);
  std::string why = drain_errors();
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    why += std::string(why.empty() ? "" : ": ") + X509_verify_cert_error_string(verify);
  }
  if (why.empty()) {
    why = code == SSL_ERROR_SYSCALL ? "unexpected end of the stream"
                                    : "error " + std::to_string(code);
  }
  error_ = std::string(what) + ": " + why;
  return Status::failed;
}

TlsChannel::Status TlsChannel::handshake() {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    return Status::ok;
  }
  const int code = SSL_get_error(ssl_, r);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return Status::ok;
  return fail("handshake", r);
}

TlsChannel::Status TlsChannel::start() {
  if (!ssl_) return Status::failed;
  return handshake();
}

TlsChannel::Status TlsChannel::feed(const char* data, std::size_t len, std::string& plain) {
  if (!ssl_) return Status::failed;
  if (!error_.empty()) return Status::failed;
  while (len > 0) {
    const int chunk = static_cast<int>(len > INT_MAX ? INT_MAX : len);
    const int w = BIO_write(in_, data, chunk);
    if (w <= 0) {
      error_ = "cannot buffer input: " + drain_errors();
      return Status::failed;
    }
    data += w;
    len -= static_cast<std::size_t>(w);
  }
  if (!established_) {
    if (handshake() == Status::failed) return Status::failed;
    if (!established_) return Status::ok;
  }
  if (peer_closed_) return Status::closed;
  // Decrypted into a stack buffer and appended: growing `plain` by a chunk first would
  // zero-fill 16 KiB per call, which costs more than decrypting a short line.
  char chunk[kReadChunk];
  for (;;) {
    ERR_clear_error();
    const int r = SSL_read(ssl_, chunk, static_cast<int>(sizeof chunk));
    if (r > 0) {
      plain.append(chunk, static_cast<std::size_t>(r));
      // Nothing buffered on either side: another SSL_read would only fail with
      // WANT_READ (an error-queue round trip per read).
      if (BIO_ctrl_pending(in_) == 0 && SSL_pending(ssl_) == 0) return Status::ok;
      continue;
    }
    const int code = SSL_get_error(ssl_, r);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return Status::ok;
    if (code == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return Status::closed;
    }
    return fail("read", r);
  }
}

TlsChannel::Status TlsChannel::write(const std::string_view* parts, std::size_t count) {
  if (!ssl_ || !established_ || !error_.empty()) {
    if (error_.empty()) error_ = "write before the handshake finished";
    return Status::failed;
  }
  if (shut_) return Status::ok;  // nothing goes out after close_notify
  std::string_view whole;
  if (count == 1) {
    whole = parts[0];
  } else {
    staging_.clear();
    for (std::size_t i = 0; i < count; ++i) staging_.append(parts[i]);
    whole = staging_;
  }
  while (!whole.empty()) {
    const int chunk = static_cast<int>(whole.size() > INT_MAX / 2 ? INT_MAX / 2 : whole.size());
    ERR_clear_error();
    const int r = SSL_write(ssl_, whole.data(), chunk);
    if (r <= 0) return fail("write", r);
    whole.remove_prefix(static_cast<std::size_t>(r));
  }
  if (staging_.capacity() > kKeepStagingBytes) std::string().swap(staging_);
  return Status::ok;
}

void TlsChannel::shutdown() {
  if (!ssl_ || shut_) return;
  shut_ = true;
  if (!established_ || !error_.empty()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; the peer's answer is not awaited
  ERR_clear_error();
}

bool TlsChannel::has_output() const {
  return out_ && BIO_ctrl_pending(out_) > 0;
}

void TlsChannel::take_output(std::string& out) {
  if (!out_) return;
  const std::size_t n = BIO_ctrl_pending(out_);
  if (n == 0) return;
  const std::size_t old = out.size();
  out.resize(old + n);
  const int r = BIO_read(out_, out.data() + old, static_cast<int>(n));
  out.resize(old + static_cast<std::size_t>(r > 0 ? r : 0));
}

bool TlsChannel::peer_names(std::string_view name) const {
  if (!ssl_) return false;
  return certificate_names(SSL_get0_peer_certificate(ssl_), name);
}

std::string TlsChannel::peer_subject() const {
  const X509* cert = ssl_ ? SSL_get0_peer_certificate(ssl_) : nullptr;
  if (!cert) return "-";
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

std::string TlsChannel::description() const {
  if (!ssl_ || !established_) return "-";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

}  // namespace herd
