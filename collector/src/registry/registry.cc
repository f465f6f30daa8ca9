#include "sentinelle/collector/registry.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sentinelle/crypto.h"

namespace sentinelle::collector {

using nlohmann::json;

std::string_view StageName(Stage s) {
  switch (s) {
    case Stage::kCandidate: return "candidate";
    case Stage::kShadow: return "shadow";
    case Stage::kCanary: return "canary";
    case Stage::kProduction: return "production";
    case Stage::kArchived: return "archived";
  }
  return "candidate";
}

std::optional<Stage> StageFromName(std::string_view name) {
  for (Stage s : {Stage::kCandidate, Stage::kShadow, Stage::kCanary, Stage::kProduction,
                  Stage::kArchived}) {
    if (StageName(s) == name) return s;
  }
  return std::nullopt;
}

std::string ModelFamily::Label() const {
  std::string l = target + "/" + std::to_string(horizon_min) + "/" + kind;
  if (!station.empty()) l += "/" + station;
  return l;
}

std::string_view RolloutVerdictName(RolloutVerdict v) {
  switch (v) {
    case RolloutVerdict::kWait: return "wait";
    case RolloutVerdict::kPromote: return "promote";
    case RolloutVerdict::kRollBack: return "roll_back";
  }
  return "wait";
}

RolloutDecision DecideRollout(const LiveComparison& in, double max_rmse_ratio,
                              int64_t min_samples) {
  RolloutDecision d;
  char buf[256];
  if (in.candidate_samples < min_samples || in.current_samples < min_samples) {
    std::snprintf(buf, sizeof buf, "waiting for live pairs: candidate %lld, current %lld, need %lld",
                  static_cast<long long>(in.candidate_samples),
                  static_cast<long long>(in.current_samples), static_cast<long long>(min_samples));
    d.reason = buf;
    return d;
  }
  if (!std::isfinite(in.candidate_rmse) || !std::isfinite(in.current_rmse)) {
    d.verdict = RolloutVerdict::kRollBack;
    d.reason = "live RMSE is not a finite number";
    return d;
  }
  const bool ok = in.candidate_rmse <= max_rmse_ratio * in.current_rmse;
  d.verdict = ok ? RolloutVerdict::kPromote : RolloutVerdict::kRollBack;
  std::snprintf(buf, sizeof buf,
                "live RMSE %.4g over %lld pairs vs current %.4g over %lld pairs: %s (limit %.3gx)",
                in.candidate_rmse, static_cast<long long>(in.candidate_samples), in.current_rmse,
                static_cast<long long>(in.current_samples), ok ? "not worse" : "worse",
                max_rmse_ratio);
  d.reason = buf;
  return d;
}

std::string ManifestKind(const TrainedModel& m) {
  if (m.kind == predict::ModelKind::kLinear) return "linear";
  return m.scope == predict::ModelScope::kStation ? "station" : "network";
}

namespace {

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: initial registry schema.
      "CREATE TABLE models(\n"
      "  version INTEGER PRIMARY KEY AUTOINCREMENT,\n"
      "  target TEXT NOT NULL, horizon_min INTEGER NOT NULL,\n"
      "  kind TEXT NOT NULL, station TEXT NOT NULL,\n"
      "  stage TEXT NOT NULL, rollout_stations TEXT NOT NULL,\n"
      "  artifact_sha256 TEXT NOT NULL, artifact_size INTEGER NOT NULL,\n"
      "  created_s INTEGER NOT NULL, updated_s INTEGER NOT NULL,\n"
      "  parent_version INTEGER NOT NULL,\n"
      "  trigger_kind TEXT NOT NULL, trigger_by TEXT NOT NULL, job_id TEXT NOT NULL,\n"
      "  gate_passed INTEGER NOT NULL, gate_reason TEXT NOT NULL,\n"
      "  stage_reason TEXT NOT NULL, xgboost_version TEXT NOT NULL,\n"
      "  lineage TEXT NOT NULL);\n"
      "CREATE INDEX models_by_family ON models(target, horizon_min, kind, station, stage);\n"
      "CREATE TABLE stage_changes(\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  version INTEGER NOT NULL, from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,\n"
      "  at_s INTEGER NOT NULL, by TEXT NOT NULL, reason TEXT NOT NULL);\n"
      "CREATE INDEX stage_changes_by_version ON stage_changes(version);\n"
      "CREATE TABLE clocks(key TEXT PRIMARY KEY, value INTEGER NOT NULL);\n",
      // 2: shadow answers from the stations (accuracy gate) and training jobs.
      "CREATE TABLE shadow_predictions(\n"
      "  version INTEGER NOT NULL, station TEXT NOT NULL, issued INTEGER NOT NULL,\n"
      "  value REAL NOT NULL, arrival_ms INTEGER NOT NULL,\n"
      "  PRIMARY KEY(version, station, issued)) WITHOUT ROWID;\n"
      "CREATE TABLE jobs(\n"
      "  id TEXT PRIMARY KEY, created_s INTEGER NOT NULL, status TEXT NOT NULL);\n"
      "CREATE INDEX jobs_by_created ON jobs(created_s);\n",
  };
  return kMigrations;
}

constexpr const char* kColumns =
    "version, target, horizon_min, kind, station, stage, rollout_stations, artifact_sha256, "
    "artifact_size, created_s, updated_s, parent_version, trigger_kind, trigger_by, job_id, "
    "gate_passed, gate_reason, stage_reason, xgboost_version, lineage";

ModelRecord FromRow(const Stmt& q) {
  ModelRecord r;
  r.version = q.ColumnInt(0);
  r.family.target = q.ColumnText(1);
  r.family.horizon_min = static_cast<int>(q.ColumnInt(2));
  r.family.kind = q.ColumnText(3);
  r.family.station = q.ColumnText(4);
  r.stage = StageFromName(q.ColumnText(5)).value_or(Stage::kArchived);
  r.rollout_stations =
      json::parse(q.ColumnText(6), nullptr, false).is_array()
          ? json::parse(q.ColumnText(6)).get<std::vector<std::string>>()
          : std::vector<std::string>{};
  r.artifact_sha256 = q.ColumnText(7);
  r.artifact_size = q.ColumnInt(8);
  r.created_s = q.ColumnInt(9);
  r.updated_s = q.ColumnInt(10);
  r.parent_version = q.ColumnInt(11);
  r.trigger.kind = q.ColumnText(12);
  r.trigger.by = q.ColumnText(13);
  r.trigger.job_id = q.ColumnText(14);
  r.gate_passed = q.ColumnInt(15) != 0;
  r.gate_reason = q.ColumnText(16);
  r.stage_reason = q.ColumnText(17);
  r.xgboost_version = q.ColumnText(18);
  r.lineage = json::parse(q.ColumnText(19), nullptr, false);
  if (r.lineage.is_discarded()) r.lineage = json::object();
  return r;
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return MakeError("open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return MakeError("write " + tmp + ": " + err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return MakeError("fsync " + tmp + ": " + err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return MakeError("rename " + path + ": " + err);
  }
  return Status::Ok();
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

json ModelRecord::ToJson() const {
  return {{"version", version},
          {"target", family.target},
          {"horizon_min", family.horizon_min},
          {"kind", family.kind},
          {"station", family.station.empty() ? json(nullptr) : json(family.station)},
          {"family", family.Label()},
          {"stage", StageName(stage)},
          {"rollout_stations", rollout_stations},
          {"artifact", {{"sha256", artifact_sha256}, {"size", artifact_size}}},
          {"created", FormatUtc(created_s)},
          {"updated", FormatUtc(updated_s)},
          {"parent_version", parent_version ? json(parent_version) : json(nullptr)},
          {"trigger", {{"kind", trigger.kind}, {"by", trigger.by}, {"job", trigger.job_id}}},
          {"gate", {{"passed", gate_passed}, {"reason", gate_reason}}},
          {"stage_reason", stage_reason},
          {"xgboost_version", xgboost_version},
          {"lineage", lineage}};
}

ModelRegistry::ModelRegistry(std::string dir, std::unique_ptr<Db> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}

Result<std::unique_ptr<ModelRegistry>> ModelRegistry::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/artifacts", ec);
  if (ec) return MakeError("cannot create " + dir + "/artifacts: " + ec.message());
  DbOptions o;
  o.synchronous = "FULL";
  auto db = Db::Open(dir + "/registry.db", o);
  if (!db) return MakeError("registry: " + db.message());
  if (Status st = (*db)->Migrate(Migrations()); !st) return MakeError("registry: " + st.message());
  return std::unique_ptr<ModelRegistry>(new ModelRegistry(dir, std::move(*db)));
}

std::string ModelRegistry::ArtifactPath(const std::string& sha256) const {
  return dir_ + "/artifacts/" + sha256.substr(0, 2) + "/" + sha256;
}

Result<ModelRecord> ModelRegistry::Register(const TrainedModel& model, const TriggerInfo& trigger,
                                            int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  ModelFamily family{std::string(Name(model.target)), model.horizon_min, ManifestKind(model),
                     model.scope == predict::ModelScope::kStation ? model.station : ""};
  // Parent: the family's production model at training time.
  int64_t parent = 0;
  {
    auto q = db_->Prepare(
        "SELECT version FROM models WHERE target=?1 AND horizon_min=?2 AND kind=?3 AND "
        "station=?4 AND stage='production' ORDER BY version DESC LIMIT 1");
    if (!q) return q.error();
    q->Bind(1, family.target).Bind(2, int64_t{family.horizon_min}).Bind(3, family.kind).Bind(4, family.station);
    auto row = q->Step();
    if (!row) return row.error();
    if (*row) parent = q->ColumnInt(0);
  }
  json per_station = json::object();
  for (const auto& [st, m] : model.per_station) per_station[st] = m.ToJson();
  json lineage = {{"window",
                   {{"from", FormatUtc(model.window_from_s)},
                    {"to", FormatUtc(model.window_to_s)},
                    {"cutoff", FormatUtc(model.cutoff_s)}}},
                  {"stations", model.stations},
                  {"rows", {{"train", model.train_rows}, {"validation", model.validation_rows}}},
                  {"feature_spec", model.spec.ToJson()},
                  {"feature_fingerprint", model.spec.Fingerprint()},
                  {"hyperparameters", model.hyperparameters},
                  {"rounds", model.rounds},
                  {"booster_sha256", model.booster_sha256},
                  {"metrics", model.overall.ToJson()},
                  {"metrics_per_station", per_station}};

  Transaction tx(*db_);
  if (!tx.begun()) return tx.begin_status().error();
  auto ins = db_->Prepare(std::string("INSERT INTO models(") + kColumns +
                          ") VALUES(NULL,?1,?2,?3,?4,'candidate','[]','',0,?5,?5,?6,?7,?8,?9,?10,"
                          "?11,'registered',?12,?13)");
  if (!ins) return ins.error();
  ins->Bind(1, family.target).Bind(2, int64_t{family.horizon_min}).Bind(3, family.kind)
      .Bind(4, family.station).Bind(5, now_s).Bind(6, parent).Bind(7, trigger.kind)
      .Bind(8, trigger.by).Bind(9, trigger.job_id).Bind(10, int64_t{model.gate_passed ? 1 : 0})
      .Bind(11, model.gate_reason).Bind(12, model.xgboost_version).Bind(13, lineage.dump());
  if (Status st = ins->Run(); !st) return st.error();
  const int64_t version = db_->LastInsertRowId();
  auto file = model.write(std::to_string(version), now_s);
  if (!file) return MakeError("model file: " + file.message());
  const std::string sha = Sha256Hex(*file);
  const std::string path = ArtifactPath(sha);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return MakeError("artifact dir: " + ec.message());
  if (!std::filesystem::exists(path, ec)) {
    if (Status st = WriteFileAtomic(path, *file); !st) return st.error();
  }
  auto upd = db_->Prepare("UPDATE models SET artifact_sha256=?1, artifact_size=?2 WHERE version=?3");
  if (!upd) return upd.error();
  upd->Bind(1, sha).Bind(2, static_cast<int64_t>(file->size())).Bind(3, version);
  if (Status st = upd->Run(); !st) return st.error();
  if (Status st = RecordChange(version, Stage::kCandidate, Stage::kCandidate, trigger.by,
                               "registered: " + model.gate_reason, now_s);
      !st) {
    return st.error();
  }
  if (Status st = tx.Commit(); !st) return st.error();
  auto rec = GetLocked(version);
  if (!rec) return rec.error();
  if (!*rec) return MakeError("registered version vanished");
  return **rec;
}

Result<std::optional<ModelRecord>> ModelRegistry::GetLocked(int64_t version) {
  auto q = db_->Prepare(std::string("SELECT ") + kColumns + " FROM models WHERE version=?1");
  if (!q) return q.error();
  q->Bind(1, version);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return std::optional<ModelRecord>();
  return std::optional<ModelRecord>(FromRow(*q));
}

Result<std::optional<ModelRecord>> ModelRegistry::Get(int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  return GetLocked(version);
}

Result<std::vector<ModelRecord>> ModelRegistry::List(const ModelFilter& f) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string("SELECT ") + kColumns +
                        " FROM models WHERE (?1 IS NULL OR target=?1) AND "
                        "(?2 IS NULL OR horizon_min=?2) AND (?3 IS NULL OR kind=?3) AND "
                        "(?4 IS NULL OR stage=?4) ORDER BY version DESC LIMIT ?5");
  if (!q) return q.error();
  if (f.target) q->Bind(1, *f.target); else q->BindNull(1);
  if (f.horizon_min) q->Bind(2, int64_t{*f.horizon_min}); else q->BindNull(2);
  if (f.kind) q->Bind(3, *f.kind); else q->BindNull(3);
  if (f.stage) q->Bind(4, StageName(*f.stage)); else q->BindNull(4);
  q->Bind(5, f.limit);
  std::vector<ModelRecord> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(FromRow(*q));
  }
  return out;
}

namespace {
// The family's newest version whose stage matches `stage_sql` (an SQL
// condition on `stage`).
Result<std::optional<ModelRecord>> NewestOfFamily(Db& db, const ModelFamily& family,
                                                  const char* stage_sql) {
  auto q = db.Prepare(std::string("SELECT ") + kColumns +
                      " FROM models WHERE target=?1 AND horizon_min=?2 AND kind=?3 AND "
                      "station=?4 AND " + stage_sql + " ORDER BY version DESC LIMIT 1");
  if (!q) return q.error();
  q->Bind(1, family.target).Bind(2, int64_t{family.horizon_min}).Bind(3, family.kind).Bind(4, family.station);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return std::optional<ModelRecord>();
  return std::optional<ModelRecord>(FromRow(*q));
}
}  // namespace

Result<std::optional<ModelRecord>> ModelRegistry::Production(const ModelFamily& family) {
  std::lock_guard<std::mutex> lock(mu_);
  return NewestOfFamily(*db_, family, "stage='production'");
}

Result<std::optional<ModelRecord>> ModelRegistry::Staged(const ModelFamily& family) {
  std::lock_guard<std::mutex> lock(mu_);
  return NewestOfFamily(*db_, family, "stage IN ('shadow','canary')");
}

Result<std::vector<StageChange>> ModelRegistry::History(int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT version, from_stage, to_stage, at_s, by, reason FROM stage_changes WHERE "
      "version=?1 ORDER BY id");
  if (!q) return q.error();
  q->Bind(1, version);
  std::vector<StageChange> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({q->ColumnInt(0), q->ColumnText(1), q->ColumnText(2), q->ColumnInt(3),
                   q->ColumnText(4), q->ColumnText(5)});
  }
  return out;
}

Status ModelRegistry::RecordChange(int64_t version, Stage from, Stage to, const std::string& by,
                                   const std::string& reason, int64_t now_s) {
  auto q = db_->Prepare(
      "INSERT INTO stage_changes(version, from_stage, to_stage, at_s, by, reason) "
      "VALUES(?1,?2,?3,?4,?5,?6)");
  if (!q) return q.error();
  q->Bind(1, version).Bind(2, StageName(from)).Bind(3, StageName(to)).Bind(4, now_s).Bind(5, by)
      .Bind(6, reason);
  return q->Run();
}

Status ModelRegistry::SetStage(int64_t version, Stage to, const std::vector<std::string>& stations,
                               const std::string& reason, int64_t now_s) {
  auto q = db_->Prepare(
      "UPDATE models SET stage=?1, rollout_stations=?2, stage_reason=?3, updated_s=?4 WHERE "
      "version=?5");
  if (!q) return q.error();
  q->Bind(1, StageName(to)).Bind(2, json(stations).dump()).Bind(3, reason).Bind(4, now_s)
      .Bind(5, version);
  return q->Run();
}

Result<ModelRecord> ModelRegistry::Promote(int64_t version, Stage to,
                                           const std::vector<std::string>& stations,
                                           const std::string& by, const std::string& reason,
                                           int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto rec = GetLocked(version);
  if (!rec) return rec.error();
  if (!*rec) return MakeError("unknown version " + std::to_string(version));
  const ModelRecord& m = **rec;
  if (to == Stage::kCandidate) return MakeError("a model cannot go back to candidate");
  if (m.stage == Stage::kArchived && to != Stage::kArchived) {
    return MakeError("version " + std::to_string(version) +
                     " is archived: bring it back with a rollback");
  }
  if (m.stage == to && to != Stage::kShadow && to != Stage::kCanary) {
    return MakeError("version " + std::to_string(version) + " is already " +
                     std::string(StageName(to)));
  }
  if (to != Stage::kArchived && !m.gate_passed) {
    return MakeError("version " + std::to_string(version) +
                     " did not beat seasonal persistence (" + m.gate_reason + ")");
  }
  if (to == Stage::kProduction && !stations.empty()) {
    return MakeError("production is network-wide: no station list");
  }
  if ((to == Stage::kShadow || to == Stage::kCanary) && stations.empty() &&
      m.family.kind != "station") {
    return MakeError(std::string(StageName(to)) + " needs the canary stations");
  }
  Transaction tx(*db_);
  if (!tx.begun()) return tx.begin_status().error();
  // At most one production and one staged (shadow or canary) version per
  // family: the family has one retained topic for each (docs/PROTOCOL.md,
  // "Topics per scope"). A new production version archives the previous
  // one; a new staged version archives the one staged before it.
  const bool staging = to == Stage::kShadow || to == Stage::kCanary;
  if (to == Stage::kProduction || staging) {
    auto q = db_->Prepare(
        "SELECT version, stage FROM models WHERE target=?1 AND horizon_min=?2 AND kind=?3 AND "
        "station=?4 AND stage IN (?6, ?7) AND version<>?5");
    if (!q) return q.error();
    q->Bind(1, m.family.target).Bind(2, int64_t{m.family.horizon_min}).Bind(3, m.family.kind)
        .Bind(4, m.family.station).Bind(5, version)
        .Bind(6, std::string(staging ? "shadow" : "production"))
        .Bind(7, std::string(staging ? "canary" : "production"));
    std::vector<std::pair<int64_t, Stage>> previous;
    while (true) {
      auto row = q->Step();
      if (!row) return row.error();
      if (!*row) break;
      previous.emplace_back(q->ColumnInt(0), StageFromName(q->ColumnText(1)).value_or(Stage::kArchived));
    }
    for (const auto& [v, from] : previous) {
      const std::string why = (staging ? "superseded by version " : "replaced by version ") +
                              std::to_string(version) +
                              (staging ? " in " + std::string(StageName(to)) : std::string());
      if (Status st = SetStage(v, Stage::kArchived, {}, why, now_s); !st) return st.error();
      if (Status st = RecordChange(v, from, Stage::kArchived, by, why, now_s); !st) {
        return st.error();
      }
    }
  }
  if (Status st = SetStage(version, to, stations, reason, now_s); !st) return st.error();
  if (Status st = RecordChange(version, m.stage, to, by, reason, now_s); !st) return st.error();
  if (Status st = tx.Commit(); !st) return st.error();
  auto out = GetLocked(version);
  if (!out) return out.error();
  return **out;
}

Result<ModelRecord> ModelRegistry::Rollback(const ModelFamily& family, const std::string& by,
                                            const std::string& reason, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT version FROM models WHERE target=?1 AND horizon_min=?2 AND kind=?3 AND station=?4 "
      "AND stage='production' ORDER BY version DESC LIMIT 1");
  if (!q) return q.error();
  q->Bind(1, family.target).Bind(2, int64_t{family.horizon_min}).Bind(3, family.kind).Bind(4, family.station);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return MakeError("no production model for " + family.Label());
  const int64_t current = q->ColumnInt(0);
  // The most recent older version that was production before the current one
  // (never a newer one: a rollback does not undo a rollback).
  auto p = db_->Prepare(
      "SELECT DISTINCT c.version FROM stage_changes c JOIN models m ON m.version=c.version "
      "WHERE m.target=?1 AND m.horizon_min=?2 AND m.kind=?3 AND m.station=?4 AND "
      "c.to_stage='production' AND c.version<?5 AND m.stage='archived' ORDER BY c.id DESC "
      "LIMIT 1");
  if (!p) return p.error();
  p->Bind(1, family.target).Bind(2, int64_t{family.horizon_min}).Bind(3, family.kind)
      .Bind(4, family.station).Bind(5, current);
  auto prow = p->Step();
  if (!prow) return prow.error();
  if (!*prow) return MakeError("no earlier production model of " + family.Label() + " to go back to");
  const int64_t restore = p->ColumnInt(0);
  Transaction tx(*db_);
  if (!tx.begun()) return tx.begin_status().error();
  const std::string why_out = "rolled back: " + reason;
  if (Status st = SetStage(current, Stage::kArchived, {}, why_out, now_s); !st) return st.error();
  if (Status st = RecordChange(current, Stage::kProduction, Stage::kArchived, by, why_out, now_s); !st) {
    return st.error();
  }
  const std::string why_in = "restored by rollback from version " + std::to_string(current) + ": " + reason;
  if (Status st = SetStage(restore, Stage::kProduction, {}, why_in, now_s); !st) return st.error();
  if (Status st = RecordChange(restore, Stage::kArchived, Stage::kProduction, by, why_in, now_s); !st) {
    return st.error();
  }
  if (Status st = tx.Commit(); !st) return st.error();
  auto out = GetLocked(restore);
  if (!out) return out.error();
  return **out;
}

Result<ModelRecord> ModelRegistry::ApplyRollout(int64_t version, const RolloutDecision& decision,
                                                const std::string& by, int64_t now_s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto rec = GetLocked(version);
    if (!rec) return rec.error();
    if (!*rec) return MakeError("unknown version " + std::to_string(version));
    if ((*rec)->stage != Stage::kShadow && (*rec)->stage != Stage::kCanary) {
      return MakeError("version " + std::to_string(version) + " is not in shadow or canary");
    }
    if (decision.verdict == RolloutVerdict::kWait) return **rec;
  }
  if (decision.verdict == RolloutVerdict::kPromote) {
    return Promote(version, Stage::kProduction, {}, by, "accuracy gate: " + decision.reason, now_s);
  }
  return Promote(version, Stage::kArchived, {}, by,
                 "rolled back by the accuracy gate: " + decision.reason, now_s);
}

Result<bool> ModelRegistry::NewerEverAnnounced(const ModelFamily& family, int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT 1 FROM stage_changes c JOIN models m ON m.version=c.version WHERE m.target=?1 AND "
      "m.horizon_min=?2 AND m.kind=?3 AND m.station=?4 AND c.version>?5 AND "
      "c.to_stage IN ('shadow','canary','production') LIMIT 1");
  if (!q) return q.error();
  q->Bind(1, family.target).Bind(2, int64_t{family.horizon_min}).Bind(3, family.kind)
      .Bind(4, family.station).Bind(5, version);
  auto row = q->Step();
  if (!row) return row.error();
  return *row;
}

Result<json> ModelRegistry::Compare(int64_t a, int64_t b) {
  auto ra = Get(a);
  if (!ra) return ra.error();
  auto rb = Get(b);
  if (!rb) return rb.error();
  if (!*ra || !*rb) return MakeError("unknown version");
  const json ma = (*ra)->lineage.value("metrics", json::object());
  const json mb = (*rb)->lineage.value("metrics", json::object());
  json diff = json::object();
  for (const char* k : {"rmse", "mae", "r2", "skill", "persistence_rmse"}) {
    if (ma.contains(k) && mb.contains(k) && ma[k].is_number() && mb[k].is_number()) {
      diff[k] = mb[k].get<double>() - ma[k].get<double>();
    }
  }
  const bool same_spec = (*ra)->lineage.value("feature_fingerprint", std::string()) ==
                         (*rb)->lineage.value("feature_fingerprint", std::string());
  return json{{"a", (*ra)->ToJson()},
              {"b", (*rb)->ToJson()},
              {"same_family", (*ra)->family == (*rb)->family},
              {"same_feature_spec", same_spec},
              {"metrics_b_minus_a", diff}};
}

Result<std::string> ModelRegistry::ReadArtifact(int64_t version) {
  auto rec = Get(version);
  if (!rec) return rec.error();
  if (!*rec) return MakeError("unknown version " + std::to_string(version));
  const std::string sha = (*rec)->artifact_sha256;
  if (!IsHex64(sha)) return MakeError("version " + std::to_string(version) + " has no artifact");
  std::ifstream in(ArtifactPath(sha), std::ios::binary);
  if (!in) return MakeError("artifact of version " + std::to_string(version) + " is missing");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  if (Sha256Hex(bytes) != sha) {
    return MakeError("artifact of version " + std::to_string(version) +
                     " does not match its sha256 (changed on disk)");
  }
  return bytes;
}

Status ModelRegistry::AddShadowPredictions(const std::vector<ShadowPrediction>& rows) {
  if (rows.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  if (!tx.begun()) return tx.begin_status();
  auto q = db_->Prepare(
      "INSERT OR IGNORE INTO shadow_predictions(version, station, issued, value, arrival_ms) "
      "VALUES(?1,?2,?3,?4,?5)");
  if (!q) return q.error();
  for (const ShadowPrediction& r : rows) {
    q->Reset();
    q->Bind(1, r.version).Bind(2, r.station).Bind(3, r.issued_s).Bind(4, r.value).Bind(5, r.arrival_ms);
    if (Status st = q->Run(); !st) return st;
  }
  return tx.Commit();
}

Result<std::vector<ShadowPrediction>> ModelRegistry::ShadowPredictions(int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT station, issued, value, arrival_ms FROM shadow_predictions WHERE version=?1 "
      "ORDER BY station, issued");
  if (!q) return q.error();
  q->Bind(1, version);
  std::vector<ShadowPrediction> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({version, q->ColumnText(0), q->ColumnInt(1), q->ColumnDouble(2), q->ColumnInt(3)});
  }
  return out;
}

Status ModelRegistry::SaveJob(const std::string& id, int64_t created_s, const json& status) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "INSERT INTO jobs(id, created_s, status) VALUES(?1,?2,?3) "
      "ON CONFLICT(id) DO UPDATE SET status=?3");
  if (!q) return q.error();
  q->Bind(1, id).Bind(2, created_s).Bind(3, status.dump());
  return q->Run();
}

Result<std::vector<json>> ModelRegistry::LoadJobs(int64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT status FROM (SELECT status, created_s, rowid AS r FROM jobs "
      "ORDER BY created_s DESC, r DESC LIMIT ?1) ORDER BY created_s, r");
  if (!q) return q.error();
  q->Bind(1, limit);
  std::vector<json> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    json j = json::parse(q->ColumnText(0), nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

Result<std::optional<int64_t>> ModelRegistry::GetClock(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT value FROM clocks WHERE key=?1");
  if (!q) return q.error();
  q->Bind(1, key);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(q->ColumnInt(0));
}

Status ModelRegistry::SetClock(const std::string& key, int64_t value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "INSERT INTO clocks(key, value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET value=?2");
  if (!q) return q.error();
  q->Bind(1, key).Bind(2, value);
  return q->Run();
}

}  // namespace sentinelle::collector
