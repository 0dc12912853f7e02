#pragma once
// The providers that ask an HTTP API (PROTOCOL.md section 4), over this loop's HttpClient:
// `google-legacy` (Nearby Search, GET), `google` (Places API New, POST searchNearby), `x`
// (X API v2 recent search, GET, bearer token) and `wikipedia` (MediaWiki GeoSearch, GET,
// no key). Identical
// lookups in flight at once (same provider, location and radius) share one upstream
// request; each waiter gets its own bound. At most kMaxLookupsInFlight upstream requests
// run at once per worker loop (PROTOCOL.md section 10); later lookups wait, in order,
// for a free slot. One instance per worker loop.
#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "server/http_client.hpp"
#include "server/places_provider.hpp"

namespace herd {

class UpstreamProvider final : public PlacesProvider {
 public:
  static constexpr std::size_t kMaxLookupsInFlight = 64;

  // key: the API key or bearer token (never logged; empty for wikipedia).
  UpstreamProvider(uv_loop_t* loop, const PlacesConfig& config, std::string key);
  bool init(std::string* error) { return http_.init(error); }

  bool lookup(const PlacesQuery& query, std::string& json, Done done) override;
  std::string_view name() const override { return config_.provider_name; }

  // The request a lookup sends (exposed for tests of the URL and body shapes).
  static HttpRequest build_request(const PlacesConfig& config, const std::string& key,
                                   std::string_view location_text, double radius_km);

 private:
  struct Waiter {
    int bound;
    Done done;
  };
  struct InFlight {
    std::vector<Waiter> waiters;
    std::uint64_t started_ms = 0;
    std::string location, metres;  // for the log line
    Location at;                   // shared by every waiter (the coalescing key)
    double radius_km = 0;
    HttpRequest request;
  };

  // Starts the upstream request of an entry in in_flight_ (a free slot was taken).
  void send(const std::string& key, const std::shared_ptr<InFlight>& entry);

  const PlacesConfig& config_;
  std::string key_;
  uv_loop_t* loop_;
  HttpClient http_;
  // Lookups started or waiting for a slot, by coalescing key.
  std::unordered_map<std::string, std::shared_ptr<InFlight>> in_flight_;
  std::deque<std::string> waiting_;  // keys waiting for a slot, oldest first
  std::size_t running_ = 0;          // upstream requests in flight
  std::uint64_t next_uncoalesced_ = 0;
};

}  // namespace herd
