#pragma once
// The Google providers (PROTOCOL.md section 4): `google-legacy` (Nearby Search, GET) and
// `google` (Places API New, POST searchNearby), over this loop's HttpClient. Identical
// lookups in flight at once (same provider, location and radius) share one upstream
// request; each waiter gets its own bound. One instance per worker loop.
#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "server/http_client.hpp"
#include "server/places_provider.hpp"

namespace herd {

class GoogleProvider final : public PlacesProvider {
 public:
  // key: the API key (never logged). legacy selects the API.
  GoogleProvider(uv_loop_t* loop, const PlacesConfig& config, std::string key);
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
  };

  const PlacesConfig& config_;
  std::string key_;
  bool legacy_;
  uv_loop_t* loop_;
  HttpClient http_;
  std::unordered_map<std::string, std::shared_ptr<InFlight>> in_flight_;
  std::uint64_t next_uncoalesced_ = 0;
};

}  // namespace herd
