// The fallback chain: station model -> network model -> linear model ->
// seasonal persistence, per (target, horizon). It always answers when the
// station has ever seen the target, and every answer says which link
// answered, with which model, why the links before it were skipped, and
// which inputs were missing.
//
// Models hot-swap: Install() loads, verifies and self-tests a model file
// off to the side and replaces the slot's model only on success; a failed
// load leaves the previous model answering (and, when the slot had none,
// is remembered as the reason the link is skipped: "refused").
//
// Shadow models (docs/MODELS.md, "Shadow models"): a model installed with
// InstallShadow is verified the same way but kept apart: it never answers.
// Observe evaluates it at the same window, with the same features and the
// same checks as its link would apply, and hands its answer back separately
// so the caller can publish and measure it next to the real answer.
//
// Thread safety: Install/Remove/Models (and their shadow counterparts) may
// run on any thread concurrently with Observe; Observe/Warm must be called
// from one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/predict/features.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/predict/persistence.h"
#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle::predict {

enum class LinkKind : uint8_t { kStation = 0, kNetwork, kLinear, kPersistence };
inline constexpr int kLinkCount = 4;
std::string_view LinkKindName(LinkKind k);  // "station", "network", "linear", "persistence"
std::optional<LinkKind> LinkKindFromName(std::string_view name);

enum class SkipReason : uint8_t {
  kMissing = 0,        // no model installed
  kRefused,            // the last model offered for this slot was refused, none is installed
  kInputsIncomplete,   // too many missing features, or the target's current value is missing
  kOutOfRange,         // output not finite or outside the target's physical range
  kRuntimeError,       // the model failed while predicting
  kStale,              // the model's training data ends more than max_model_age_s ago
  kNoHistory,          // persistence: the station has never seen a valid target value
};
inline constexpr int kSkipReasonCount = 7;
std::string_view SkipReasonName(SkipReason r);  // "missing", "refused", "inputs_incomplete", ...
std::optional<SkipReason> SkipReasonFromName(std::string_view name);

struct LinkSkip {
  LinkKind link;
  SkipReason reason;
  bool operator==(const LinkSkip&) const = default;
};

struct Prediction {
  std::string station_id;
  int64_t from_seq = 0;             // the reading the prediction was made from
  int64_t from_window_end_s = 0;
  Variable target = Variable::kPm25;
  int horizon_min = 0;
  int64_t target_time_s = 0;        // from_window_end_s + horizon
  double value = kMissingValue;     // NaN only when every link was skipped
  LinkKind link = LinkKind::kPersistence;
  std::string model_version;        // empty for persistence
  std::string model_sha256;
  std::vector<LinkSkip> skipped;    // in chain order
  std::vector<Variable> missing_inputs;
  bool answered() const { return value == value; }
};

struct ChainConfig {
  std::vector<Variable> targets = {Variable::kPm25, Variable::kPm10, Variable::kNo2, Variable::kO3};
  std::vector<int> horizons_min = {5, 60};
  int interval_s = 300;
  double max_missing_fraction = 0.5;         // station/network models
  double max_missing_fraction_linear = 0.9;  // the linear model imputes
  int64_t max_model_age_s = 30 * 86400;      // 0 = never stale
  double persistence_tau_min = 180.0;
  int profile_cap = 14 * 12;
  // Checks targets (1..12, distinct), horizons (whole intervals, distinct).
  Status Validate() const;
};

struct InstalledModel {
  LinkKind link;
  Variable target;
  int horizon_min;
  std::string version;
  std::string sha256;
  std::string spec_fingerprint;
};

// Where a model goes: the link (from kind and scope) and (target, horizon).
struct SlotKey {
  LinkKind link;
  Variable target;
  int horizon_min;
  auto operator<=>(const SlotKey&) const = default;
};

class FallbackChain {
 public:
  // Throws std::invalid_argument for an invalid config (start-up error).
  FallbackChain(std::string station_id, ChainConfig config);

  // Loads a model file into its slot (see header comment). `expected`, when
  // given, is the slot the caller meant (e.g. from a file name): a file for
  // another slot is refused, and an unreadable file is recorded as that
  // slot's refusal. Returns the slot on success.
  Result<SlotKey> Install(std::string_view file_bytes, std::optional<SlotKey> expected = std::nullopt);
  // Installs an already-built model (tests, or a caller holding one).
  Status InstallLoaded(std::shared_ptr<const LoadedModel> model);
  void Remove(const SlotKey& slot);
  std::vector<InstalledModel> Models() const;
  // Shadow slots: same checks as Install (a refused file changes nothing
  // and is not remembered as a refusal of the live slot).
  Result<SlotKey> InstallShadow(std::string_view file_bytes, std::optional<SlotKey> expected = std::nullopt);
  void RemoveShadow(const SlotKey& slot);
  std::vector<InstalledModel> ShadowModels() const;
  // The refusal message of a slot without a model, if any.
  std::optional<std::string> Refusal(const SlotKey& slot) const;

  // Feeds a historical reading (start-up warm-up from the buffer): features
  // and the seasonal profile learn from it; nothing is predicted.
  void Warm(const Reading& reading);
  // Feeds the newest reading and predicts every target and horizon. A
  // reading not newer than the last one (or off the interval grid) yields no
  // predictions. When `shadow` is given it receives the answers of the
  // shadow models (only those that answered: link = the shadow's link, its
  // version and checksum, `skipped` empty).
  std::vector<Prediction> Observe(const Reading& reading, std::vector<Prediction>* shadow = nullptr);

  const ChainConfig& config() const { return config_; }
  const SeasonalProfile& profile() const { return profile_; }
  // Bytes held by installed models (for the memory budget).
  size_t ModelMemoryBytes() const;

 private:
  struct Slot {
    std::shared_ptr<const LoadedModel> model;
    std::string refusal;
    std::string fingerprint;  // of the model's feature spec
  };
  using SlotMap = std::map<SlotKey, Slot>;
  struct Builder {
    FeatureBuilder builder;
    std::vector<float> row;
    bool computed = false;
    size_t missing = 0;
  };
  bool Feed(const Reading& reading);
  Builder& BuilderFor(const FeatureSpec& spec, const std::string& fingerprint);
  Prediction PredictOne(const Reading& r, Variable target, int horizon_min, const SlotMap& slots);
  // Runs one link's model on the current window: fills p's answer and
  // returns nullopt, or returns why the link is skipped.
  std::optional<SkipReason> TryModel(const Reading& r, LinkKind link, const Slot& slot, Prediction& p);
  Status InstallInto(bool shadow, std::shared_ptr<const LoadedModel> model);

  std::string station_id_;
  ChainConfig config_;
  FeatureSpec default_spec_;
  std::string default_fingerprint_;

  // Copy-on-write: Install swaps in a new map, Observe reads a snapshot.
  mutable std::mutex mu_;
  std::shared_ptr<const SlotMap> slots_;    // guarded by mu_
  std::shared_ptr<const SlotMap> shadows_;  // guarded by mu_
  void Publish(SlotMap next);               // requires mu_
  std::shared_ptr<const SlotMap> Snapshot() const;
  std::shared_ptr<const SlotMap> ShadowSnapshot() const;

  // Observe-thread state.
  std::map<std::string, Builder> builders_;  // by spec fingerprint
  std::deque<Reading> recent_;               // enough to warm a new builder
  SeasonalProfile profile_;
  std::array<double, kVariableCount> last_value_{};
  std::array<int64_t, kVariableCount> last_time_s_{};
  int64_t last_end_s_ = 0;
};

}  // namespace sentinelle::predict
