// The link handshake (PROTOCOL.md section 6, lines in core/link_handshake.hpp): adopting
// an accepted connection, both sides' state machines, refusals and the link coming up.
#include <unistd.h>

#include "core/link_handshake.hpp"
#include "core/tls_channel.hpp"
#include "server/links.hpp"
#include "server/links_internal.hpp"
#include "server/logging.hpp"
#include "server/tls_context.hpp"

namespace herd {

using namespace link_limits;

void Links::adopt_incoming(int fd, const std::string& first, const std::string& peer, bool tls) {
  if (stopping_) {
    ::close(fd);
    return;
  }
  if (handshaking() >= kMaxHandshakes) {
    ::close(fd);
    const std::uint64_t now = uv_now(loop_);
    if (now - refused_logged_ms_ >= 1000) {
      refused_logged_ms_ = now;
      log().warn("links: {} handshakes in progress; closing a new one from {}", kMaxHandshakes,
                 peer);
    }
    return;
  }
  auto* c = new Conn;
  c->links = this;
  c->dialled = false;
  c->state = Conn::State::awaiting_hello;
  c->remote = peer;
  c->started_ms = uv_now(loop_);
  int rc = uv_tcp_init(loop_, &c->tcp);
  if (rc != 0) {
    ::close(fd);
    delete c;
    log().error("links: uv_tcp_init: {}", uv_strerror(rc));
    return;
  }
  c->tcp.data = c;
  conns_.push_back(c);
  rc = uv_tcp_open(&c->tcp, fd);
  if (rc != 0) {
    ::close(fd);
    close_conn(c, std::string("uv_tcp_open: ") + uv_strerror(rc));
    return;
  }
  if (tls && !start_tls(c, false)) return;
  if (!start_reading(c)) return;
  if (tls) {
    receive(c, first.data(), first.size());
  } else {
    handle_line(c, first);
  }
}

bool Links::start_tls(Conn* c, bool dialler) {
  auto contexts = ctx_.tls->get();
  // A dialler checks during the handshake that the certificate names the neighbour it
  // dialled; an acceptor learns the name from the hello (handle_handshake).
  c->tls = std::make_unique<TlsChannel>(
      contexts->link, dialler ? TlsChannel::Role::client : TlsChannel::Role::server,
      dialler ? std::string_view(c->peer->name) : std::string_view());
  if (!c->tls->valid() || c->tls->start() == TlsChannel::Status::failed) {
    log().error("link {} ({}): {}", c->who(), c->remote, c->tls->error());
    close_conn(c, "TLS error: " + c->tls->error());
    return false;
  }
  if (c->tls->has_output()) want_write(c);
  return true;
}

void Links::deny(Conn* c, const std::string& why) {
  log().warn("link handshake from {} refused: {}", c->remote, why);
  // Nothing the connection sends after the failing line is read (PROTOCOL.md section 6).
  if (c->reading) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->reading = false;
  }
  send_control(c, "HERD-DENIED " + why + "\n");
  c->draining = true;  // closes once the refusal is written
}

void Links::handle_handshake(Conn* c, std::string_view line) {
  const std::string& secret = ctx_.secret;
  const std::string& self = ctx_.self->name;
  LinkLine l = parse_link_line(line);
  switch (c->state) {
    case Conn::State::awaiting_hello: {
      if (c->tls && l.kind == LinkLineKind::wake) {
        // Over TLS a wake-up comes to the link layer (a plaintext one is refused by the
        // session); the certificate must name the server that says it started.
        if (!c->tls->peer_names(l.a)) {
          log().warn("links: ignoring a wake-up from {}: its certificate ({}) does not name {}",
                     c->remote, c->tls->peer_subject(), for_log(l.a));
        } else {
          wake(line, c->remote);
        }
        c->draining = true;
        c->drain_reason = "wake-up received";
        want_write(c);  // closes once nothing is in flight
        return;
      }
      if (l.kind != LinkLineKind::hello) return deny(c, "expected HERD-HELLO");
      Peer* p = find_peer(l.a);
      if (!p) return deny(c, std::string(for_log(l.a)) + " is not a neighbour of " + self);
      if (c->tls && !c->tls->peer_names(p->name)) {
        return deny(
            c, "the TLS certificate (" + c->tls->peer_subject() + ") does not name " + p->name);
      }
      if (l.b != self) return deny(c, "this server is " + self + ", not " + for_log(l.b));
      if (!valid_nonce(l.c)) return deny(c, "bad nonce");
      c->peer = p;
      c->nonce_d = std::string(l.c);
      if (secret.empty()) {
        send_control(c, "HERD-OK " + self + "\n");
        link_up(c);
        return;
      }
      c->nonce_a = make_nonce();
      std::string proof =
          link_proof(secret, ProofRole::acceptor, p->name, self, c->nonce_d, c->nonce_a);
      send_control(c, "HERD-CHALLENGE " + self + " " + c->nonce_a + " " + proof + "\n");
      c->state = Conn::State::awaiting_prove;
      return;
    }
    case Conn::State::awaiting_prove: {
      if (l.kind != LinkLineKind::prove) return deny(c, "expected HERD-PROVE");
      std::string expected =
          link_proof(secret, ProofRole::dialler, c->peer->name, self, c->nonce_d, c->nonce_a);
      if (!proof_matches(expected, l.a)) return deny(c, "proof of the link secret does not match");
      send_control(c, "HERD-OK " + self + "\n");
      link_up(c);
      return;
    }
    case Conn::State::hello_sent: {
      if (l.kind == LinkLineKind::denied)
        return close_conn(c, "refused by the neighbour: " + for_log(l.a));
      if (l.kind == LinkLineKind::ok) {
        if (l.a != c->peer->name)
          return close_conn(c, "answered by " + for_log(l.a) + ", not " + c->peer->name);
        if (!secret.empty()) {
          log().warn("link {}: neighbour accepted without proving the link secret; closing",
                     c->peer->name);
          return close_conn(c, "neighbour did not prove the link secret");
        }
        link_up(c);
        return;
      }
      if (l.kind != LinkLineKind::challenge) return close_conn(c, "unexpected handshake line");
      if (secret.empty()) {
        log().warn("link {}: the neighbour requires a link secret and ${} is not set",
                   c->peer->name, ctx_.config->secret_env);
        return close_conn(c, "neighbour requires a link secret");
      }
      if (l.a != c->peer->name || !valid_nonce(l.b)) return close_conn(c, "malformed challenge");
      c->nonce_a = std::string(l.b);
      std::string expected =
          link_proof(secret, ProofRole::acceptor, self, c->peer->name, c->nonce_d, c->nonce_a);
      if (!proof_matches(expected, l.c)) {
        log().warn("link {}: the neighbour's proof of the link secret does not match",
                   c->peer->name);
        return close_conn(c, "neighbour failed to prove the link secret");
      }
      send_control(c, "HERD-PROVE " +
                          link_proof(secret, ProofRole::dialler, self, c->peer->name, c->nonce_d,
                                     c->nonce_a) +
                          "\n");
      c->state = Conn::State::proved;
      return;
    }
    case Conn::State::proved: {
      if (l.kind == LinkLineKind::denied)
        return close_conn(c, "refused by the neighbour: " + for_log(l.a));
      if (l.kind != LinkLineKind::ok || l.a != c->peer->name)
        return close_conn(c, "unexpected handshake line");
      link_up(c);
      return;
    }
    default:
      return;
  }
}

void Links::link_up(Conn* c) {
  Peer* p = c->peer;
  c->state = Conn::State::up;
  c->splitter.set_max(link_max_line_);
  if (p->dialing == c) p->dialing = nullptr;
  if (p->up && p->up != c) close_conn(p->up, "replaced by a new link from the neighbour");
  if (p->dialing) close_conn(p->dialing, "a link is already up");
  p->up = c;
  p->backoff_ms = kBackoffMinMs;
  uv_timer_stop(&p->retry);
  uv_tcp_keepalive(&c->tcp, 1, 30);
  log().info("link {} up ({} {})", p->name, c->dialled ? "dialled" : "accepted from", c->remote);
  start_catchup(c);
}

}  // namespace herd
