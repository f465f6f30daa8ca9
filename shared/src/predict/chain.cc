#include "sentinelle/predict/chain.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "sentinelle/json_util.h"

namespace sentinelle::predict {

namespace {

constexpr std::string_view kLinkNames[kLinkCount] = {"station", "network", "linear", "persistence"};
constexpr std::string_view kReasonNames[kSkipReasonCount] = {
    "missing", "refused", "inputs_incomplete", "out_of_range", "runtime_error", "stale", "no_history"};
constexpr LinkKind kModelLinks[] = {LinkKind::kStation, LinkKind::kNetwork, LinkKind::kLinear};

LinkKind LinkOf(const ModelEnvelope& e) {
  if (e.kind == ModelKind::kLinear) return LinkKind::kLinear;
  return e.scope == ModelScope::kStation ? LinkKind::kStation : LinkKind::kNetwork;
}

// The slot a model file is meant for, read leniently from its header, so a
// file refused for its contents (spec, checksum) still names its slot.
std::optional<SlotKey> PeekSlot(std::string_view bytes) {
  auto j = ParseJsonLimited(bytes, kMaxModelFileBytes, 32);
  if (!j || !j->is_object()) return std::nullopt;
  const auto kind = j->find("kind"), scope = j->find("scope"), target = j->find("target"),
             horizon = j->find("horizon_min");
  if (kind == j->end() || scope == j->end() || target == j->end() || horizon == j->end() ||
      !kind->is_string() || !scope->is_string() || !target->is_string() || !horizon->is_number_integer()) {
    return std::nullopt;
  }
  auto var = VariableFromName(target->get<std::string>());
  if (!var || horizon->get<int64_t>() < 1 || horizon->get<int64_t>() > 100000) return std::nullopt;
  LinkKind link;
  if (*kind == "linear") link = LinkKind::kLinear;
  else if (*kind == "xgboost" && *scope == "station") link = LinkKind::kStation;
  else if (*kind == "xgboost" && *scope == "network") link = LinkKind::kNetwork;
  else return std::nullopt;
  return SlotKey{link, *var, static_cast<int>(horizon->get<int64_t>())};
}

}  // namespace

std::string_view LinkKindName(LinkKind k) { return kLinkNames[static_cast<int>(k)]; }
std::optional<LinkKind> LinkKindFromName(std::string_view name) {
  for (int i = 0; i < kLinkCount; ++i) {
    if (kLinkNames[i] == name) return static_cast<LinkKind>(i);
  }
  return std::nullopt;
}
std::string_view SkipReasonName(SkipReason r) { return kReasonNames[static_cast<int>(r)]; }
std::optional<SkipReason> SkipReasonFromName(std::string_view name) {
  for (int i = 0; i < kSkipReasonCount; ++i) {
    if (kReasonNames[i] == name) return static_cast<SkipReason>(i);
  }
  return std::nullopt;
}

Status ChainConfig::Validate() const {
  if (targets.empty() || targets.size() > static_cast<size_t>(kVariableCount)) {
    return MakeError("prediction targets: 1 to 12 variables");
  }
  auto t = targets;
  std::sort(t.begin(), t.end());
  if (std::adjacent_find(t.begin(), t.end()) != t.end()) return MakeError("prediction targets: duplicate");
  if (horizons_min.empty() || horizons_min.size() > 16) return MakeError("prediction horizons: 1 to 16");
  auto h = horizons_min;
  std::sort(h.begin(), h.end());
  if (std::adjacent_find(h.begin(), h.end()) != h.end()) return MakeError("prediction horizons: duplicate");
  for (int m : horizons_min) {
    if (auto st = HorizonSteps(interval_s, m); !st) return MakeError("prediction horizons: " + st.message());
  }
  if (!(max_missing_fraction >= 0 && max_missing_fraction <= 1) ||
      !(max_missing_fraction_linear >= 0 && max_missing_fraction_linear <= 1)) {
    return MakeError("max_missing_fraction must lie in [0, 1]");
  }
  if (max_model_age_s < 0 || !(persistence_tau_min > 0) || profile_cap < 1) {
    return MakeError("max_model_age_s, persistence_tau_min, profile_cap out of range");
  }
  return Status::Ok();
}

FallbackChain::FallbackChain(std::string station_id, ChainConfig config)
    : station_id_(std::move(station_id)),
      config_(std::move(config)),
      slots_(std::make_shared<const SlotMap>()),
      shadows_(std::make_shared<const SlotMap>()),
      profile_(config_.profile_cap) {
  if (Status st = config_.Validate(); !st) throw std::invalid_argument(st.message());
  default_spec_ = FeatureSpec::ForTargets(config_.targets, config_.interval_s);
  default_fingerprint_ = default_spec_.Fingerprint();
  last_value_.fill(kMissingValue);
  last_time_s_.fill(0);
  builders_.emplace(default_fingerprint_, Builder{FeatureBuilder(default_spec_), {}, false, 0});
}

void FallbackChain::Publish(SlotMap next) { slots_ = std::make_shared<const SlotMap>(std::move(next)); }

std::shared_ptr<const FallbackChain::SlotMap> FallbackChain::Snapshot() const {
  std::lock_guard lock(mu_);
  return slots_;
}

std::shared_ptr<const FallbackChain::SlotMap> FallbackChain::ShadowSnapshot() const {
  std::lock_guard lock(mu_);
  return shadows_;
}

Result<SlotKey> FallbackChain::Install(std::string_view file_bytes, std::optional<SlotKey> expected) {
  auto loaded = LoadModel(file_bytes, LoadOptions{station_id_});
  std::optional<SlotKey> key = expected;
  if (loaded) {
    const ModelEnvelope& e = (*loaded)->meta;
    const SlotKey actual{LinkOf(e), e.target, e.horizon_min};
    if (expected && *expected != actual) {
      loaded = MakeError("file holds a " + std::string(LinkKindName(actual.link)) + " model for " +
                         std::string(Name(actual.target)) + "/" + std::to_string(actual.horizon_min) +
                         " min, not the expected slot");
    } else {
      key = actual;
    }
  } else if (!key) {
    // Name the slot from the envelope when it is readable, so the refusal shows.
    key = PeekSlot(file_bytes);
  }
  Status installed = loaded ? InstallLoaded(*loaded) : Status(loaded.error());
  if (installed) return *key;
  if (key) {
    std::lock_guard lock(mu_);
    SlotMap next = *slots_;
    next[*key].refusal = installed.message();
    Publish(std::move(next));
  }
  return installed.error();
}

Status FallbackChain::InstallLoaded(std::shared_ptr<const LoadedModel> model) {
  return InstallInto(false, std::move(model));
}

Status FallbackChain::InstallInto(bool shadow, std::shared_ptr<const LoadedModel> model) {
  if (!model || !model->model) return MakeError("no model");
  const ModelEnvelope& e = model->meta;
  if (std::find(config_.targets.begin(), config_.targets.end(), e.target) == config_.targets.end() ||
      std::find(config_.horizons_min.begin(), config_.horizons_min.end(), e.horizon_min) ==
          config_.horizons_min.end()) {
    return MakeError("model for " + std::string(Name(e.target)) + "/" + std::to_string(e.horizon_min) +
                     " min: not a configured target and horizon");
  }
  if (e.spec.interval_s != config_.interval_s) {
    return MakeError("model features use " + std::to_string(e.spec.interval_s) + " s windows, the station " +
                     std::to_string(config_.interval_s) + " s");
  }
  const SlotKey key{LinkOf(e), e.target, e.horizon_min};
  std::string fingerprint = e.spec.Fingerprint();
  std::lock_guard lock(mu_);
  if (shadow) {
    SlotMap next = *shadows_;
    next[key] = Slot{std::move(model), {}, std::move(fingerprint)};
    shadows_ = std::make_shared<const SlotMap>(std::move(next));
    return Status::Ok();
  }
  SlotMap next = *slots_;
  next[key] = Slot{std::move(model), {}, std::move(fingerprint)};
  Publish(std::move(next));
  return Status::Ok();
}

Result<SlotKey> FallbackChain::InstallShadow(std::string_view file_bytes, std::optional<SlotKey> expected) {
  auto loaded = LoadModel(file_bytes, LoadOptions{station_id_});
  if (!loaded) return loaded.error();
  const ModelEnvelope& e = (*loaded)->meta;
  const SlotKey actual{LinkOf(e), e.target, e.horizon_min};
  if (expected && *expected != actual) {
    return MakeError("file holds a " + std::string(LinkKindName(actual.link)) + " model for " +
                     std::string(Name(actual.target)) + "/" + std::to_string(actual.horizon_min) +
                     " min, not the expected slot");
  }
  if (Status st = InstallInto(true, *loaded); !st) return st.error();
  return actual;
}

void FallbackChain::RemoveShadow(const SlotKey& slot) {
  std::lock_guard lock(mu_);
  SlotMap next = *shadows_;
  next.erase(slot);
  shadows_ = std::make_shared<const SlotMap>(std::move(next));
}

std::vector<InstalledModel> FallbackChain::ShadowModels() const {
  std::vector<InstalledModel> out;
  for (const auto& [key, slot] : *ShadowSnapshot()) {
    const ModelEnvelope& e = slot.model->meta;
    out.push_back({key.link, key.target, key.horizon_min, e.version, e.sha256, slot.fingerprint});
  }
  return out;
}

void FallbackChain::Remove(const SlotKey& slot) {
  std::lock_guard lock(mu_);
  SlotMap next = *slots_;
  next.erase(slot);
  Publish(std::move(next));
}

std::vector<InstalledModel> FallbackChain::Models() const {
  std::vector<InstalledModel> out;
  for (const auto& [key, slot] : *Snapshot()) {
    if (!slot.model) continue;
    const ModelEnvelope& e = slot.model->meta;
    out.push_back({key.link, key.target, key.horizon_min, e.version, e.sha256, slot.fingerprint});
  }
  return out;
}

std::optional<std::string> FallbackChain::Refusal(const SlotKey& slot) const {
  auto snap = Snapshot();
  auto it = snap->find(slot);
  if (it == snap->end() || it->second.refusal.empty()) return std::nullopt;
  return it->second.refusal;
}

size_t FallbackChain::ModelMemoryBytes() const {
  size_t total = 0;
  for (const auto& [key, slot] : *Snapshot()) {
    if (slot.model) total += slot.model->model->MemoryBytes();
  }
  for (const auto& [key, slot] : *ShadowSnapshot()) total += slot.model->model->MemoryBytes();
  return total;
}

bool FallbackChain::Feed(const Reading& r) {
  if (r.interval_s != config_.interval_s || r.window_end_s % config_.interval_s != 0) return false;
  if (last_end_s_ != 0 && r.window_end_s <= last_end_s_) return false;
  last_end_s_ = r.window_end_s;
  for (auto& [fp, b] : builders_) {
    b.builder.Push(r);
    b.computed = false;
  }
  profile_.Add(r);
  for (int v = 0; v < kVariableCount; ++v) {
    if (r.valid(static_cast<Variable>(v))) {
      last_value_[v] = r.values[v];
      last_time_s_[v] = r.window_end_s;
    }
  }
  int keep = 0;
  for (const auto& [fp, b] : builders_) keep = std::max(keep, b.builder.spec().HistorySteps());
  recent_.push_back(r);
  while (recent_.size() > static_cast<size_t>(keep) + 1) recent_.pop_front();
  return true;
}

FallbackChain::Builder& FallbackChain::BuilderFor(const FeatureSpec& spec, const std::string& fingerprint) {
  auto it = builders_.find(fingerprint);
  if (it != builders_.end()) return it->second;
  // A new specification: warm it with the readings kept so far. It sees as
  // much history as the deepest builder before it needed; a deeper one fills
  // up as readings arrive (its long-window features are missing until then).
  Builder b{FeatureBuilder(spec), {}, false, 0};
  for (const Reading& r : recent_) b.builder.Push(r);
  return builders_.emplace(fingerprint, std::move(b)).first->second;
}

void FallbackChain::Warm(const Reading& reading) { Feed(reading); }

std::vector<Prediction> FallbackChain::Observe(const Reading& reading, std::vector<Prediction>* shadow) {
  std::vector<Prediction> out;
  if (shadow) shadow->clear();
  if (!Feed(reading)) return out;
  auto slots = Snapshot();
  out.reserve(config_.targets.size() * config_.horizons_min.size());
  for (Variable target : config_.targets) {
    for (int h : config_.horizons_min) out.push_back(PredictOne(reading, target, h, *slots));
  }
  if (shadow) {
    // Same window, same features and checks as the link would apply; only
    // answers are reported.
    for (const auto& [key, slot] : *ShadowSnapshot()) {
      Prediction p;
      p.station_id = station_id_;
      p.from_seq = reading.seq;
      p.from_window_end_s = reading.window_end_s;
      p.target = key.target;
      p.horizon_min = key.horizon_min;
      p.target_time_s = reading.window_end_s + static_cast<int64_t>(key.horizon_min) * 60;
      if (!TryModel(reading, key.link, slot, p)) shadow->push_back(std::move(p));
    }
  }
  return out;
}

std::optional<SkipReason> FallbackChain::TryModel(const Reading& r, LinkKind link, const Slot& slot,
                                                  Prediction& p) {
  const LoadedModel& m = *slot.model;
  if (config_.max_model_age_s > 0 && r.window_end_s - m.meta.trained_until_s > config_.max_model_age_s) {
    return SkipReason::kStale;
  }
  Builder& b = BuilderFor(m.meta.spec, slot.fingerprint);
  if (!b.computed) {
    b.row.resize(b.builder.Width());
    b.builder.Compute(b.row.data());
    b.missing = static_cast<size_t>(std::count_if(b.row.begin(), b.row.end(), [](float x) { return x != x; }));
    b.computed = true;
  }
  const double missing_fraction = static_cast<double>(b.missing) / static_cast<double>(b.row.size());
  const bool trees = link != LinkKind::kLinear;
  const double limit = trees ? config_.max_missing_fraction : config_.max_missing_fraction_linear;
  if (missing_fraction > limit || (trees && !r.valid(p.target))) return SkipReason::kInputsIncomplete;
  Result<float> value = MakeError("not run");
  try {
    value = m.model->Predict(b.row.data());
  } catch (const std::exception& e) {
    value = MakeError(e.what());
  }
  if (!value) return SkipReason::kRuntimeError;
  const auto& info = Info(p.target);
  if (!std::isfinite(*value) || *value < info.min || *value > info.max) return SkipReason::kOutOfRange;
  p.value = *value;
  p.link = link;
  p.model_version = m.meta.version;
  p.model_sha256 = m.meta.sha256;
  p.missing_inputs = b.builder.MissingInputs();
  return std::nullopt;
}

Prediction FallbackChain::PredictOne(const Reading& r, Variable target, int horizon_min, const SlotMap& slots) {
  Prediction p;
  p.station_id = station_id_;
  p.from_seq = r.seq;
  p.from_window_end_s = r.window_end_s;
  p.target = target;
  p.horizon_min = horizon_min;
  p.target_time_s = r.window_end_s + static_cast<int64_t>(horizon_min) * 60;
  for (LinkKind link : kModelLinks) {
    auto it = slots.find(SlotKey{link, target, horizon_min});
    if (it == slots.end() || !it->second.model) {
      const bool refused = it != slots.end() && !it->second.refusal.empty();
      p.skipped.push_back({link, refused ? SkipReason::kRefused : SkipReason::kMissing});
      continue;
    }
    if (auto skip = TryModel(r, link, it->second, p)) {
      p.skipped.push_back({link, *skip});
      continue;
    }
    return p;
  }
  const int ti = static_cast<int>(target);
  PersistenceInputs in;
  in.last_value = last_value_[ti];
  in.last_time_s = last_time_s_[ti];
  in.now_s = r.window_end_s;
  in.target_time_s = p.target_time_s;
  in.tau_min = config_.persistence_tau_min;
  p.link = LinkKind::kPersistence;
  p.value = SeasonalPersistence(profile_, target, in);
  if (std::isnan(p.value)) p.skipped.push_back({LinkKind::kPersistence, SkipReason::kNoHistory});
  p.missing_inputs = builders_.at(default_fingerprint_).builder.MissingInputs();
  return p;
}

}  // namespace sentinelle::predict
