#include "server/upstream_provider.hpp"

#include "core/decimal_format.hpp"
#include "core/places_json.hpp"
#include "core/places_wikipedia.hpp"
#include "core/places_x.hpp"
#include "core/url.hpp"
#include "server/logging.hpp"

namespace herd {
namespace {

// "+34.068930-118.445127" -> {"34.068930", "-118.445127"} (validated text, so the second
// sign is always present).
std::pair<std::string, std::string> split_location(std::string_view loc) {
  std::size_t second = loc.find_first_of("+-", 1);
  std::string lat(loc.substr(0, second)), lng(loc.substr(second));
  if (lat[0] == '+') lat.erase(0, 1);
  if (lng[0] == '+') lng.erase(0, 1);
  return {lat, lng};
}

std::string metres(double radius_km) {
  std::string out;
  append_decimal(out, radius_km * 1000.0, 3, TrailingZeros::drop_all);
  return out;
}

}  // namespace

UpstreamProvider::UpstreamProvider(uv_loop_t* loop, const PlacesConfig& config, std::string key)
    : config_(config), key_(std::move(key)), loop_(loop), http_(loop) {}

HttpRequest UpstreamProvider::build_request(const PlacesConfig& config, const std::string& key,
                                            std::string_view location_text, double radius_km) {
  HttpRequest req;
  req.timeout_ms = static_cast<long>(config.timeout_ms);
  req.secret = key;
  auto [lat, lng] = split_location(location_text);
  if (config.provider == PlacesProviderKind::x) {
    req.url = x_search_url(config.endpoint, lat, lng, radius_km);
    req.headers = {"Authorization: Bearer " + key};
  } else if (config.provider == PlacesProviderKind::wikipedia) {
    req.url = wikipedia_search_url(config.endpoint, lat, lng, radius_km);
  } else if (config.provider == PlacesProviderKind::google_legacy) {
    req.url = url_with_query(
        config.endpoint.empty() ? "https://maps.googleapis.com/maps/api/place/nearbysearch/json"
                                : config.endpoint,
        "location=" + lat + "," + lng + "&radius=" + metres(radius_km) + "&key=" + key);
  } else {
    req.url = config.endpoint.empty() ? "https://places.googleapis.com/v1/places:searchNearby"
                                      : config.endpoint;
    req.headers = {"Content-Type: application/json", "X-Goog-Api-Key: " + key,
                   "X-Goog-FieldMask: "
                   "places.id,places.displayName,places.location,places.shortFormattedAddress,"
                   "places.formattedAddress,places.types,places.rating,places.userRatingCount,"
                   "places.businessStatus"};
    req.post_body =
        "{\"maxResultCount\": 20, \"locationRestriction\": {\"circle\": {\"center\": "
        "{\"latitude\": " +
        lat + ", \"longitude\": " + lng + "}, \"radius\": " + metres(radius_km) + "}}}";
  }
  return req;
}

bool UpstreamProvider::lookup(const PlacesQuery& q, std::string&, Done done) {
  const std::string radius = metres(q.radius_km);
  std::string key = std::string(q.location_text) + " " + radius;
  if (!config_.coalesce) key += " #" + std::to_string(next_uncoalesced_++);  // never matches
  auto it = in_flight_.find(key);
  if (it != in_flight_.end()) {
    it->second->waiters.push_back(Waiter{q.bound, std::move(done)});
    return false;
  }
  // Everything that can throw happens before the entry is registered, so a failure never
  // leaves an entry that would swallow later identical lookups.
  auto entry = std::make_shared<InFlight>();
  entry->waiters.push_back(Waiter{q.bound, std::move(done)});
  entry->location = std::string(q.location_text);
  entry->metres = radius + " m";
  if (const double searched = searched_radius_km(config_.provider, q.radius_km);
      searched != q.radius_km)
    entry->metres += " (searched " + metres(searched) + " m, the API's limit)";
  entry->at = q.at;
  entry->radius_km = q.radius_km;
  entry->request = build_request(config_, key_, q.location_text, q.radius_km);
  in_flight_.emplace(key, entry);
  try {
    if (running_ < kMaxLookupsInFlight) {
      send(key, entry);
    } else {
      waiting_.push_back(key);
    }
  } catch (...) {
    in_flight_.erase(key);
    throw;
  }
  return false;
}

void UpstreamProvider::send(const std::string& key, const std::shared_ptr<InFlight>& entry) {
  ++running_;
  entry->started_ms = uv_now(loop_);
  HttpRequest req = std::move(entry->request);
  struct Slot {  // gives the slot back if the request cannot even be started
    std::size_t* running;
    bool armed = true;
    ~Slot() {
      if (armed) --*running;
    }
  } slot{&running_};
  http_.request(req, [this, key, entry](UpstreamResult r) {
    in_flight_.erase(key);
    --running_;
    const std::uint64_t ms = uv_now(loop_) - entry->started_ms;
    std::string status;  // every waiter gets the same status word; logged once
    UpstreamQuery uq{config_.provider, config_.endpoint, entry->at, entry->radius_km, 0};
    for (std::size_t i = 0; i < entry->waiters.size(); ++i) {
      uq.bound = entry->waiters[i].bound;
      std::string json = places_reply_json(uq, r);
      if (i == 0) status = json_status_word(json);
      try {
        entry->waiters[i].done(std::move(json));
      } catch (const std::exception& e) {
        log().error("places: completing a lookup failed: {}", e.what());
      }
    }
    log().info(
        "places {} lookup at {} radius {}: {}, HTTP {}, {} ms upstream, {} waiter(s), {} "
        "coalesced{}",
        config_.provider_name, entry->location, entry->metres, status, r.http_status, ms,
        entry->waiters.size(), entry->waiters.size() - 1,
        r.transport_ok ? "" : " (" + r.transport_error + ")");
    // The freed slot goes to the oldest waiting lookup.
    while (running_ < kMaxLookupsInFlight && !waiting_.empty()) {
      std::string next = std::move(waiting_.front());
      waiting_.pop_front();
      auto w = in_flight_.find(next);
      if (w != in_flight_.end()) send(next, w->second);
    }
  });
  slot.armed = false;
}

}  // namespace herd
