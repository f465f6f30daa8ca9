#include "sentinelle/collector/registry_api.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>

#include "sentinelle/collector/http_api.h"
#include "sentinelle/json_util.h"
#include "sentinelle/topics.h"

#include <set>

namespace sentinelle::collector {

using nlohmann::json;

namespace {

HttpResponse Json(int status, const json& j) {
  return HttpResponse{status, "application/json", j.dump()};
}
HttpResponse Err(int status, const std::string& message) {
  return Json(status, json{{"error", message}});
}

std::optional<int64_t> ParseInt(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < 0) return std::nullopt;
  return static_cast<int64_t>(v);
}

// Status of "not found" vs other registry failures.
HttpResponse RegistryError(const std::string& message) {
  if (message.rfind("unknown version", 0) == 0 || message.rfind("no production", 0) == 0 ||
      message.rfind("no earlier", 0) == 0) {
    return Err(404, message);
  }
  if (message.find("did not beat") != std::string::npos || message.find("already") != std::string::npos ||
      message.find("archived") != std::string::npos || message.find("needs") != std::string::npos ||
      message.find("cannot") != std::string::npos || message.find("network-wide") != std::string::npos ||
      message.find("not in shadow") != std::string::npos) {
    return Err(409, message);
  }
  return Err(500, message);
}

}  // namespace

RegistryApi::RegistryApi(ModelRegistry* registry, Distributor* distributor, TrainingJobs* jobs,
                         ModelsConfig config, Env* env)
    : registry_(registry), distributor_(distributor), jobs_(jobs), config_(std::move(config)), env_(env) {}

bool RegistryApi::Owns(const std::vector<std::string>& parts) {
  return !parts.empty() && (parts[0] == "models" || parts[0] == "jobs" || parts[0] == "train");
}

Result<ModelRecord> RegistryApi::Promote(int64_t version, Stage to,
                                         const std::vector<std::string>& stations,
                                         const std::string& by, const std::string& reason) {
  const int64_t now_s = env_->WallMs() / 1000;
  auto rec = registry_->Promote(version, to, stations, by, reason, now_s);
  if (!rec) return rec;
  if (to == Stage::kShadow || to == Stage::kCanary || to == Stage::kProduction) {
    if (auto m = distributor_->Announce(version, now_s); !m) {
      return MakeError("promoted but not announced: " + m.message());
    }
  } else if (to == Stage::kArchived) {
    // Archiving a staged version ends its rollout: production is announced
    // again (agents that ran the canary need the signed way back) and the
    // rollout topic follows the registry.
    auto prod = registry_->Production(rec->family);
    if (prod && *prod) (void)distributor_->Announce((*prod)->version, now_s, true);
    if (Status st = distributor_->SyncRollout(rec->family, now_s); !st) {
      return MakeError("archived but the rollout topic was not updated: " + st.message());
    }
  }
  return rec;
}

Result<ModelRecord> RegistryApi::Rollback(const ModelFamily& family, const std::string& by,
                                          const std::string& reason) {
  const int64_t now_s = env_->WallMs() / 1000;
  auto rec = registry_->Rollback(family, by, reason, now_s);
  if (!rec) return rec;
  if (auto m = distributor_->Announce(rec->version, now_s, /*rollback=*/true); !m) {
    return MakeError("rolled back but not announced: " + m.message());
  }
  return rec;
}

Result<std::pair<RolloutDecision, ModelRecord>> RegistryApi::Rollout(const LiveComparison& live,
                                                                     const std::string& by) {
  const int64_t now_s = env_->WallMs() / 1000;
  const RolloutDecision d =
      DecideRollout(live, config_.rollout_max_rmse_ratio, config_.min_live_samples);
  auto rec = registry_->ApplyRollout(live.candidate_version, d, by, now_s);
  if (!rec) return rec.error();
  if (d.verdict == RolloutVerdict::kPromote) {
    if (auto m = distributor_->Announce(rec->version, now_s); !m) return m.error();
  } else if (d.verdict == RolloutVerdict::kRollBack) {
    // Agents on the canary run the newer version: production comes back
    // with an explicit, signed rollback permission.
    auto prod = registry_->Production(rec->family);
    if (!prod) return prod.error();
    if (*prod) {
      if (auto m = distributor_->Announce((*prod)->version, now_s, true); !m) return m.error();
    } else {
      distributor_->Withdraw(rec->family);
    }
  }
  return std::make_pair(d, *rec);
}

Result<RegistryApi::GateResult> RegistryApi::EvaluateShadow(int64_t version, const std::string& by) {
  if (!measure_) return MakeError("no live measurement on this collector");
  auto rec = registry_->Get(version);
  if (!rec) return rec.error();
  if (!*rec) return MakeError("unknown version " + std::to_string(version));
  if ((*rec)->stage != Stage::kShadow) {
    return MakeError("version " + std::to_string(version) + " is not in shadow (" +
                     std::string(StageName((*rec)->stage)) + "): the gate measures shadow versions");
  }
  auto live = measure_(**rec);
  if (!live) return live.error();
  auto applied = Rollout(*live, by);
  if (!applied) return applied.error();
  return GateResult{applied->first, *live, applied->second};
}

HttpResponse RegistryApi::List(const HttpRequest& req) {
  ModelFilter f;
  if (auto t = QueryVar(req.query, "target")) f.target = *t;
  if (auto k = QueryVar(req.query, "kind")) f.kind = *k;
  if (auto h = QueryVar(req.query, "horizon_min")) {
    auto v = ParseInt(*h);
    if (!v) return Err(400, "horizon_min: not a number");
    f.horizon_min = static_cast<int>(*v);
  }
  if (auto s = QueryVar(req.query, "stage")) {
    f.stage = StageFromName(*s);
    if (!f.stage) return Err(400, "stage: candidate, shadow, canary, production or archived");
  }
  if (auto l = QueryVar(req.query, "limit")) {
    auto v = ParseInt(*l);
    if (!v || *v < 1) return Err(400, "limit: positive integer");
    f.limit = std::min<int64_t>(*v, 10000);
  }
  auto list = registry_->List(f);
  if (!list) return Err(500, "registry: " + list.message());
  json out = json::array();
  for (const ModelRecord& r : *list) {
    json j = r.ToJson();
    j.erase("lineage");
    j["metrics"] = r.lineage.value("metrics", json::object());
    out.push_back(std::move(j));
  }
  return Json(200, json{{"models", out}});
}

HttpResponse RegistryApi::Handle(const HttpRequest& req, const std::vector<std::string>& parts,
                                 const Authorizer& authorize) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  std::string who;
  auto need = [&](Permission p) { return authorize(p, &who); };

  // POST /train
  if (parts[0] == "train") {
    if (parts.size() != 1) return Err(404, "no such path");
    if (!post) return Err(405, "use POST");
    if (auto refused = need(Permission::kTrain)) return *refused;
    if (!jobs_) return Err(503, "training is not enabled on this collector");
    auto parsed = ParseJsonLimited(req.body.empty() ? "{}" : req.body, 64 * 1024, 4);
    if (!parsed) return Err(400, parsed.message());
    TrainRequest tr;
    const json& b = *parsed;
    if (!b.is_object()) return Err(400, "body must be a JSON object");
    for (auto it = b.begin(); it != b.end(); ++it) {
      static const std::set<std::string> kKeys = {"targets", "horizons_min", "stations", "network",
                                                  "station_models", "linear", "seed"};
      if (!kKeys.count(it.key())) return Err(400, "unknown field '" + it.key() + "'");
    }
    try {
      for (const auto& t : b.value("targets", json::array())) {
        auto v = VariableFromName(t.get<std::string>());
        if (!v || !IsPollutant(*v)) return Err(400, "targets: unknown pollutant");
        tr.targets.push_back(*v);
      }
      for (const auto& h : b.value("horizons_min", json::array())) {
        const int hm = h.get<int>();
        if (!predict::HorizonSteps(300, hm)) return Err(400, "horizons_min: not a multiple of 5 minutes");
        tr.horizons_min.push_back(hm);
      }
      for (const auto& s : b.value("stations", json::array())) {
        const std::string id = s.get<std::string>();
        if (!IsValidStationId(id)) return Err(400, "stations: invalid station id");
        tr.stations.push_back(id);
      }
      tr.network = b.value("network", true);
      tr.station_models = b.value("station_models", true);
      tr.linear = b.value("linear", true);
      if (b.contains("seed")) tr.seed = b["seed"].get<uint64_t>();
    } catch (const std::exception& e) {
      return Err(400, std::string("bad field type: ") + e.what());
    }
    auto id = jobs_->Submit(tr, TriggerInfo{"manual", who, ""});
    if (!id) return Err(503, id.message());
    return Json(202, json{{"job", *id}, {"status", "/api/v1/jobs/" + *id}});
  }

  // GET /jobs, /jobs/{id}
  if (parts[0] == "jobs") {
    if (parts.size() > 2) return Err(404, "no such path");
    if (!get) return Err(405, "use GET");
    if (auto refused = need(Permission::kRead)) return *refused;
    if (!jobs_) return Err(503, "training is not enabled on this collector");
    if (parts.size() == 1) {
      json list = json::array();
      for (const JobStatus& s : jobs_->List()) list.push_back(s.ToJson());
      return Json(200, json{{"jobs", list}});
    }
    auto s = jobs_->Get(parts[1]);
    if (!s) return Err(404, "unknown job");
    return Json(200, s->ToJson());
  }

  // /models...
  if (parts.size() == 1) {
    if (!get) return Err(405, "use GET");
    if (auto refused = need(Permission::kRead)) return *refused;
    return List(req);
  }
  if (parts.size() == 2 && parts[1] == "compare") {
    if (!get) return Err(405, "use GET");
    if (auto refused = need(Permission::kRead)) return *refused;
    auto a = QueryVar(req.query, "a");
    auto b = QueryVar(req.query, "b");
    auto va = a ? ParseInt(*a) : std::nullopt;
    auto vb = b ? ParseInt(*b) : std::nullopt;
    if (!va || !vb) return Err(400, "compare needs versions a and b");
    auto c = registry_->Compare(*va, *vb);
    if (!c) return Err(404, c.message());
    return Json(200, *c);
  }
  if (parts.size() == 2 && parts[1] == "public-key") {
    if (!get) return Err(405, "use GET");
    if (auto refused = need(Permission::kRead)) return *refused;
    return Json(200, json{{"algorithm", "ed25519"}, {"public_key", ToHex(distributor_->public_key())}});
  }
  if (parts.size() == 2 && parts[1] == "rollback") {
    if (!post) return Err(405, "use POST");
    if (auto refused = need(Permission::kPromote)) return *refused;
    auto parsed = ParseJsonLimited(req.body, 64 * 1024, 4);
    if (!parsed) return Err(400, parsed.message());
    StrictObject o(*parsed, "rollback");
    o.OnlyKeys({"target", "horizon_min", "kind", "station", "reason"});
    ModelFamily fam;
    fam.target = o.Str("target", 16);
    fam.horizon_min = static_cast<int>(o.Int("horizon_min", 1, 20160));
    fam.kind = o.Str("kind", 16);
    fam.station = o.OptStr("station", 64).value_or("");
    const std::string reason = o.OptStr("reason", 500).value_or("manual rollback");
    if (!o.ok()) return Err(400, o.error().message);
    auto rec = Rollback(fam, who, reason);
    if (!rec) return RegistryError(rec.message());
    return Json(200, rec->ToJson());
  }
  auto version = ParseInt(parts[1]);
  if (!version) return Err(404, "no such model");
  if (parts.size() == 2) {
    if (!get) return Err(405, "use GET");
    if (auto refused = need(Permission::kRead)) return *refused;
    auto rec = registry_->Get(*version);
    if (!rec) return Err(500, rec.message());
    if (!*rec) return Err(404, "unknown version");
    json j = (*rec)->ToJson();
    json history = json::array();
    if (auto h = registry_->History(*version)) {
      for (const StageChange& c : *h) {
        history.push_back({{"from", c.from}, {"to", c.to}, {"at", FormatUtc(c.at_s)},
                           {"by", c.by}, {"reason", c.reason}});
      }
    }
    j["history"] = history;
    return Json(200, j);
  }
  if (parts.size() != 3) return Err(404, "no such path");
  const std::string& what = parts[2];
  if (what == "artifact") {
    if (!get) return Err(405, "use GET");
    if (auto refused = need(Permission::kRead)) return *refused;
    auto bytes = registry_->ReadArtifact(*version);
    if (!bytes) {
      if (bytes.message().rfind("unknown version", 0) == 0) return Err(404, bytes.message());
      spdlog::error("artifact of version {}: {}", *version, bytes.message());
      return Err(500, bytes.message());
    }
    const std::string etag = "\"" + Sha256Hex(*bytes) + "\"";
    if (req.range) {
      // "bytes=N-": the only form a resuming download sends.
      const std::string& r = *req.range;
      std::optional<int64_t> from;
      if (r.rfind("bytes=", 0) == 0 && !r.empty() && r.back() == '-') {
        from = ParseInt(r.substr(6, r.size() - 7));
      }
      const int64_t size = static_cast<int64_t>(bytes->size());
      if (!from || *from >= size) {
        HttpResponse resp = Err(416, "unsatisfiable range");
        resp.extra_headers = "Content-Range: bytes */" + std::to_string(size) + "\r\n";
        return resp;
      }
      HttpResponse resp{206, "application/json", bytes->substr(static_cast<size_t>(*from))};
      resp.extra_headers = "Content-Range: bytes " + std::to_string(*from) + "-" +
                           std::to_string(size - 1) + "/" + std::to_string(size) +
                           "\r\nAccept-Ranges: bytes\r\nETag: " + etag + "\r\n";
      return resp;
    }
    HttpResponse resp{200, "application/json", std::move(*bytes)};
    resp.extra_headers = "Accept-Ranges: bytes\r\nETag: " + etag + "\r\n";
    return resp;
  }
  if (what == "manifest") {
    if (!get) return Err(405, "use GET");
    if (auto refused = need(Permission::kRead)) return *refused;
    auto m = distributor_->LatestManifest(*version);
    if (!m) return Err(404, "version " + std::to_string(*version) + " has not been announced");
    return HttpResponse{200, "application/json", EncodeManifest(*m)};
  }
  if (what == "promote") {
    if (!post) return Err(405, "use POST");
    if (auto refused = need(Permission::kPromote)) return *refused;
    auto parsed = ParseJsonLimited(req.body, 64 * 1024, 4);
    if (!parsed) return Err(400, parsed.message());
    if (!parsed->is_object()) return Err(400, "body must be a JSON object");
    std::string stage_name, reason = "promoted through the API";
    std::vector<std::string> stations;
    try {
      for (auto it = parsed->begin(); it != parsed->end(); ++it) {
        if (it.key() != "stage" && it.key() != "stations" && it.key() != "reason") {
          return Err(400, "unknown field '" + it.key() + "'");
        }
      }
      stage_name = parsed->at("stage").get<std::string>();
      if (parsed->contains("reason")) reason = (*parsed)["reason"].get<std::string>();
      for (const auto& s : parsed->value("stations", json::array())) {
        stations.push_back(s.get<std::string>());
        if (!IsValidStationId(stations.back())) return Err(400, "stations: invalid station id");
      }
    } catch (const std::exception& e) {
      return Err(400, std::string("promote needs a stage: ") + e.what());
    }
    auto stage = StageFromName(stage_name);
    if (!stage) return Err(400, "stage: shadow, canary, production or archived");
    auto rec = Promote(*version, *stage, stations, who, reason.substr(0, 500));
    if (!rec) return RegistryError(rec.message());
    return Json(200, rec->ToJson());
  }
  if (what == "rollout") {
    if (!post) return Err(405, "use POST");
    if (auto refused = need(Permission::kPromote)) return *refused;
    // The figures are never taken from the caller: the collector measures
    // the shadow version on its stored data now (operators override with
    // promote, rollback or archive).
    auto parsed = ParseJsonLimited(req.body.empty() ? "{}" : req.body, 64 * 1024, 4);
    if (!parsed) return Err(400, parsed.message());
    StrictObject o(*parsed, "rollout");
    o.OnlyKeys({});
    if (!o.ok()) return Err(400, o.error().message + " (the live figures are measured, not sent)");
    auto r = EvaluateShadow(*version, who);
    if (!r) return RegistryError(r.message());
    return Json(200, json{{"verdict", RolloutVerdictName(r->decision.verdict)},
                          {"reason", r->decision.reason},
                          {"live", {{"pairs", r->live.candidate_samples},
                                    {"candidate_rmse", r->live.candidate_rmse},
                                    {"current_rmse", r->live.current_rmse}}},
                          {"model", r->record.ToJson()}});
  }
  return Err(404, "no such path");
}

}  // namespace sentinelle::collector
