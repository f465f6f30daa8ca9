// The MQTT topic scheme (docs/PROTOCOL.md). All topics live under a
// configurable prefix, default "sentinelle/v1".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sentinelle {

inline constexpr std::string_view kDefaultTopicPrefix = "sentinelle/v1";

enum class StationChannel { kReadings, kPredictions, kStatus, kCommands, kAck };

struct ParsedStationTopic {
  std::string station_id;
  StationChannel channel;
};

class Topics {
 public:
  explicit Topics(std::string prefix = std::string(kDefaultTopicPrefix));

  std::string Station(std::string_view station_id, StationChannel channel) const;
  std::string Readings(std::string_view id) const { return Station(id, StationChannel::kReadings); }
  std::string Predictions(std::string_view id) const { return Station(id, StationChannel::kPredictions); }
  std::string Status(std::string_view id) const { return Station(id, StationChannel::kStatus); }
  std::string Commands(std::string_view id) const { return Station(id, StationChannel::kCommands); }
  std::string Ack(std::string_view id) const { return Station(id, StationChannel::kAck); }
  // models/{target}/{horizon}/manifest: the network production manifest.
  std::string Manifest(std::string_view target, int horizon_min) const;
  std::string AllManifests() const;                          // models/+/+/manifest
  // The retained manifest topic of one scope (docs/PROTOCOL.md, "Topics per
  // scope"): kind "network", "linear" or "station" (`station` for the last
  // only); `rollout` selects the scope's staged-rollout topic (the current
  // shadow or canary, ".../rollout/manifest") instead of its production one.
  std::string ScopedManifest(std::string_view target, int horizon_min, std::string_view kind,
                             std::string_view station, bool rollout) const;
  // The filters a station's agent subscribes to: production and rollout
  // topics of the network and linear scopes of every target and horizon, and
  // of its own station scope.
  std::vector<std::string> StationManifestFilters(std::string_view station_id) const;
  std::string AllStations(StationChannel channel) const;     // stations/+/{channel}

  // Parses "{prefix}/stations/{id}/{channel}"; nullopt for anything else.
  std::optional<ParsedStationTopic> ParseStation(std::string_view topic) const;
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
};

std::string_view ChannelName(StationChannel c);

// Station ids: 1..64 chars of [a-z0-9_-]; no MQTT wildcard or separator can
// appear in one.
bool IsValidStationId(std::string_view id);

}  // namespace sentinelle
