#pragma once
// The built-in offline provider: answers at once from the shared OfflinePlaces index.
#include "core/offline_places.hpp"
#include "server/places_provider.hpp"

namespace herd {

class OfflineProvider final : public PlacesProvider {
 public:
  explicit OfflineProvider(const OfflinePlaces& places) : places_(places) {}

  bool lookup(const PlacesQuery& q, std::string& json, Done) override {
    places_.append_json(json, places_.nearby(q.at, q.radius_km, static_cast<std::size_t>(q.bound)));
    return true;
  }
  std::string_view name() const override { return "offline"; }

 private:
  const OfflinePlaces& places_;
};

}  // namespace herd
