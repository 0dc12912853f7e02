// The NATS backbone's pure parts (PROTOCOL.md section 12): [backbone] in herd.toml and
// client ids as bucket keys.
#include <doctest/doctest.h>

#include "core/backbone_key.hpp"
#include "core/config.hpp"

using namespace herd;

namespace {
const std::string kOne = "[[server]]\nname = \"A\"\nport = 1000\n";

std::string error_of(const std::string& text) {
  std::string err;
  CHECK_FALSE(parse_config(text, "h.toml", &err));
  return err;
}
}  // namespace

TEST_CASE("backbone: [backbone] keys, defaults and errors") {
  std::string err;
  auto plain = parse_config(kOne, "h.toml", &err);
  REQUIRE(plain);
  CHECK(plain->backbone.kind == BackboneKind::links);
  auto c = parse_config(
      "[backbone]\nkind = \"nats\"\nservers = [\"nats://127.0.0.1:4222\", \"tls://[::1]:4223\"]\n"
      "bucket = \"herd-1\"\nreplicas = 3\ncreds_env = \"HERD_NATS_CREDS\"\n" +
          kOne,
      "h.toml", &err);
  REQUIRE_MESSAGE(c, err);
  CHECK(c->backbone.kind == BackboneKind::nats);
  CHECK(c->backbone.servers.size() == 2);
  CHECK(c->backbone.bucket == "herd-1");
  CHECK(c->backbone.replicas == 3);
  CHECK(c->backbone.creds_env == "HERD_NATS_CREDS");
  auto d =
      parse_config("[backbone]\nkind = \"nats\"\nservers = [\"nats://127.0.0.1:4222\"]\n" + kOne,
                   "h.toml", &err);
  REQUIRE(d);
  CHECK(d->backbone.bucket == "herd");
  CHECK(d->backbone.replicas == 1);

  CHECK(error_of("[backbone]\nkind = \"kafka\"\n" + kOne).find("backbone.kind: must be") !=
        std::string::npos);
  CHECK(error_of("[backbone]\nkind = \"nats\"\n" + kOne)
            .find("backbone.servers: needs at least one NATS URL") != std::string::npos);
  for (const char* bad :
       {"nats://localhost:4222", "http://127.0.0.1:4222", "nats://127.0.0.1", "nats://127.0.0.1:0",
        "nats://127.0.0.1:70000", "nats://::1:4222", "nats://[::1]4222", "nats://127.0.0.1:42a"}) {
    CAPTURE(bad);
    CHECK(error_of("[backbone]\nkind = \"nats\"\nservers = [\"" + std::string(bad) + "\"]\n" + kOne)
              .find("backbone.servers: must be nats://IP:PORT") != std::string::npos);
  }
  CHECK(error_of("[backbone]\nkind = \"nats\"\nservers = [\"nats://127.0.0.1:1\"]\nbucket = "
                 "\"a.b\"\n" +
                 kOne)
            .find("backbone.bucket: must be 1 to 64") != std::string::npos);
  CHECK(error_of("[backbone]\nkind = \"nats\"\nservers = [\"nats://127.0.0.1:1\"]\nreplicas = 6\n" +
                 kOne)
            .find("backbone.replicas: must be from 1 to 5") != std::string::npos);
  CHECK(
      error_of("[backbone]\nkind = \"nats\"\nservers = [\"nats://127.0.0.1:1\"]\nhost = 1\n" + kOne)
          .find("backbone.host: unknown key") != std::string::npos);
}

TEST_CASE("backbone: client ids map to bucket keys reversibly") {
  CHECK(bucket_key("kiwi-1_X") == "kiwi-1_X");
  CHECK(bucket_key("kiwi.cs.ucla.edu") == "=6b6977692e63732e75636c612e656475");
  CHECK(bucket_key("=") == "=3d");
  for (std::string id : {std::string("kiwi.cs.ucla.edu"), std::string("a b"), std::string("=x"),
                         std::string("\xff\x01", 2), std::string("plain"), std::string(5000, 'z'),
                         std::string("ünï")}) {
    CAPTURE(id);
    const std::string key = bucket_key(id);
    for (char c : key) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '=';
      CHECK(ok);
    }
    auto back = client_id_of_key(key);
    REQUIRE(back);
    CHECK(*back == id);
  }
  // Keys no id maps to ("=6b6977" is "kiw", whose key is plain "kiw": not canonical).
  for (const char* key : {"", "=", "=6", "=zz", "=6B", "a.b", "=6b6977", "a*"}) {
    CAPTURE(key);
    CHECK_FALSE(client_id_of_key(key));
  }
}
