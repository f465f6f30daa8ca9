#include "sentinelle/topics.h"

#include <array>

namespace sentinelle {

namespace {
constexpr std::array<std::string_view, 5> kChannels = {"readings", "predictions", "status",
                                                       "commands", "ack"};
}

std::string_view ChannelName(StationChannel c) { return kChannels[static_cast<int>(c)]; }

bool IsValidStationId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

Topics::Topics(std::string prefix) : prefix_(std::move(prefix)) {
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

std::string Topics::Station(std::string_view id, StationChannel channel) const {
  std::string t = prefix_;
  t += "/stations/";
  t += id;
  t += '/';
  t += ChannelName(channel);
  return t;
}

std::string Topics::Manifest(std::string_view target, int horizon_min) const {
  return prefix_ + "/models/" + std::string(target) + "/" + std::to_string(horizon_min) +
         "/manifest";
}

std::string Topics::AllManifests() const { return prefix_ + "/models/+/+/manifest"; }

std::string Topics::ScopedManifest(std::string_view target, int horizon_min, std::string_view kind,
                                   std::string_view station, bool rollout) const {
  std::string t = prefix_ + "/models/" + std::string(target) + "/" + std::to_string(horizon_min);
  if (kind == "linear") {
    t += "/linear";
  } else if (kind == "station") {
    t += "/stations/";
    t += station;
  }
  if (rollout) t += "/rollout";
  return t + "/manifest";
}

std::vector<std::string> Topics::StationManifestFilters(std::string_view station_id) const {
  const std::string m = prefix_ + "/models/+/+";
  const std::string own = m + "/stations/" + std::string(station_id);
  return {m + "/manifest",    m + "/rollout/manifest",        m + "/linear/manifest",
          m + "/linear/rollout/manifest", own + "/manifest", own + "/rollout/manifest"};
}

std::string Topics::AllStations(StationChannel channel) const {
  return prefix_ + "/stations/+/" + std::string(ChannelName(channel));
}

std::optional<ParsedStationTopic> Topics::ParseStation(std::string_view topic) const {
  const std::string head = prefix_ + "/stations/";
  if (topic.substr(0, head.size()) != head) return std::nullopt;
  std::string_view rest = topic.substr(head.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view id = rest.substr(0, slash);
  std::string_view chan = rest.substr(slash + 1);
  if (!IsValidStationId(id)) return std::nullopt;
  for (size_t i = 0; i < kChannels.size(); ++i) {
    if (kChannels[i] == chan) {
      return ParsedStationTopic{std::string(id), static_cast<StationChannel>(i)};
    }
  }
  return std::nullopt;
}

}  // namespace sentinelle
