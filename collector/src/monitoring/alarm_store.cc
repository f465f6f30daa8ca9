#include "alarm_store.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace sentinelle::collector {

using monitor::Alarm;
using nlohmann::json;

namespace {

// Each entry runs once, in order, in its own transaction.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE monitor_alarms(\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  kind TEXT NOT NULL,\n"
      "  subject TEXT NOT NULL,\n"
      "  what TEXT NOT NULL,\n"
      "  stations TEXT NOT NULL,\n"
      "  reason TEXT NOT NULL,\n"
      "  start_s INTEGER NOT NULL,\n"
      "  raised_s INTEGER NOT NULL,\n"
      "  end_s INTEGER,\n"
      "  cleared_s INTEGER,\n"
      "  figures TEXT NOT NULL,\n"
      "  peak TEXT NOT NULL,\n"
      "  bad_evaluations INTEGER NOT NULL);\n"
      "CREATE INDEX monitor_alarms_subject ON monitor_alarms(subject, id);\n"
      "CREATE INDEX monitor_alarms_end ON monitor_alarms(end_s);\n",
      // 2: why a closed alarm cleared (Alarm::clear_reason).
      "ALTER TABLE monitor_alarms ADD COLUMN clear_reason TEXT NOT NULL DEFAULT '';\n",
  };
  return m;
}

constexpr const char* kColumns =
    "id, kind, subject, what, stations, reason, start_s, raised_s, end_s, cleared_s, figures, "
    "peak, bad_evaluations, clear_reason";
// The same for reading a store of schema 1 read-only (not migrated).
constexpr const char* kColumnsV1 =
    "id, kind, subject, what, stations, reason, start_s, raised_s, end_s, cleared_s, figures, "
    "peak, bad_evaluations, '' AS clear_reason";

json FiguresJson(const std::map<std::string, double>& f) {
  json j = json::object();
  for (const auto& [k, v] : f) j[k] = std::isfinite(v) ? json(v) : json(nullptr);
  return j;
}

std::map<std::string, double> FiguresFrom(const std::string& text) {
  std::map<std::string, double> out;
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) out[k] = v.is_number() ? v.get<double>() : NAN;
  return out;
}

Result<Alarm> Row(Stmt& q) {
  Alarm a;
  a.id = static_cast<uint64_t>(q.ColumnInt(0));
  const auto kind = monitor::AlarmKindFromName(q.ColumnText(1));
  if (!kind) return MakeError("alarm " + std::to_string(a.id) + ": unknown kind " + q.ColumnText(1));
  a.kind = *kind;
  a.subject = q.ColumnText(2);
  a.what = q.ColumnText(3);
  const json st = json::parse(q.ColumnText(4), nullptr, false);
  if (st.is_array()) {
    for (const auto& s : st) {
      if (s.is_string()) a.stations.push_back(s.get<std::string>());
    }
  }
  a.reason = q.ColumnText(5);
  a.start_s = q.ColumnInt(6);
  a.raised_s = q.ColumnInt(7);
  if (!q.ColumnIsNull(8)) a.end_s = q.ColumnInt(8);
  if (!q.ColumnIsNull(9)) a.cleared_s = q.ColumnInt(9);
  a.figures = FiguresFrom(q.ColumnText(10));
  a.peak = FiguresFrom(q.ColumnText(11));
  a.bad_evaluations = static_cast<int>(q.ColumnInt(12));
  a.clear_reason = q.ColumnText(13);
  return a;
}

Result<std::vector<Alarm>> Collect(Stmt& q) {
  std::vector<Alarm> out;
  while (true) {
    auto row = q.Step();
    if (!row) return row.error();
    if (!*row) break;
    auto a = Row(q);
    if (!a) return a.error();
    out.push_back(std::move(*a));
  }
  return out;
}

Result<int64_t> SchemaVersion(Db& db) {
  auto q = db.Prepare("SELECT value FROM monitor_meta WHERE key = 'schema'");
  if (!q) return q.error();
  auto row = q->Step();
  if (!row) return row.error();
  return *row ? q->ColumnInt(0) : 0;
}

Result<bool> TableExists(Db& db, const char* name) {
  auto q = db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  if (!q) return q.error();
  q->Bind(1, std::string_view(name));
  auto row = q->Step();
  if (!row) return row.error();
  return *row;
}

}  // namespace

Result<std::unique_ptr<AlarmStore>> AlarmStore::Open(const std::string& path, bool read_only) {
  DbOptions o;
  o.synchronous = "NORMAL";
  o.read_only = read_only;
  auto db = Db::Open(path, o);
  if (!db) return db.error();
  if (read_only) {
    auto exists = TableExists(**db, "monitor_alarms");
    if (!exists) return exists.error();
    int64_t version = 0;
    if (*exists) {
      auto meta = TableExists(**db, "monitor_meta");
      if (!meta) return meta.error();
      if (*meta) {
        auto v = SchemaVersion(**db);
        if (!v) return v.error();
        version = *v;
      }
    }
    return std::unique_ptr<AlarmStore>(
        new AlarmStore(std::move(*db), *exists, version >= 2 ? kColumns : kColumnsV1));
  }
  if (Status st = (*db)->Exec(
          "CREATE TABLE IF NOT EXISTS monitor_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
      !st) {
    return st.error();
  }
  auto version = SchemaVersion(**db);
  if (!version) return version.error();
  const auto& migrations = Migrations();
  if (*version > static_cast<int64_t>(migrations.size())) {
    return MakeError("monitor schema version " + std::to_string(*version) +
                     " is newer than this build knows (" + std::to_string(migrations.size()) + ")");
  }
  for (size_t i = static_cast<size_t>(*version); i < migrations.size(); ++i) {
    Transaction tx(**db);
    if (!tx.begun()) return tx.begin_status().error();
    if (Status st = (*db)->Exec(migrations[i]); !st) return st.error();
    auto q = (*db)->Prepare(
        "INSERT INTO monitor_meta(key, value) VALUES('schema', ?1) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!q) return q.error();
    if (Status st = q->Bind(1, static_cast<int64_t>(i + 1)).Run(); !st) return st.error();
    if (Status st = tx.Commit(); !st) return st.error();
  }
  return std::unique_ptr<AlarmStore>(new AlarmStore(std::move(*db), true, kColumns));
}

Status AlarmStore::Upsert(const std::vector<Alarm>& alarms) {
  if (alarms.empty()) return Status::Ok();
  if (!has_table_) return MakeError("alarm table missing (read-only store)");
  Transaction tx(*db_);
  if (!tx.begun()) return tx.begin_status().error();
  auto q = db_->Prepare(std::string("INSERT INTO monitor_alarms(") + kColumns +
                        ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                        "ON CONFLICT(id) DO UPDATE SET stations = excluded.stations, "
                        "reason = excluded.reason, end_s = excluded.end_s, "
                        "cleared_s = excluded.cleared_s, figures = excluded.figures, "
                        "peak = excluded.peak, bad_evaluations = excluded.bad_evaluations, "
                        "clear_reason = excluded.clear_reason");
  if (!q) return q.error();
  for (const Alarm& a : alarms) {
    q->Bind(1, static_cast<int64_t>(a.id))
        .Bind(2, monitor::AlarmKindName(a.kind))
        .Bind(3, a.subject)
        .Bind(4, a.what)
        .Bind(5, json(a.stations).dump())
        .Bind(6, a.reason)
        .Bind(7, a.start_s)
        .Bind(8, a.raised_s);
    if (a.end_s) q->Bind(9, *a.end_s); else q->BindNull(9);
    if (a.cleared_s) q->Bind(10, *a.cleared_s); else q->BindNull(10);
    q->Bind(11, FiguresJson(a.figures).dump())
        .Bind(12, FiguresJson(a.peak).dump())
        .Bind(13, static_cast<int64_t>(a.bad_evaluations))
        .Bind(14, a.clear_reason);
    if (Status st = q->Run(); !st) return st;
  }
  return tx.Commit();
}

Result<std::vector<Alarm>> AlarmStore::LoadForRestore(int64_t closed_limit) {
  if (!has_table_) return std::vector<Alarm>{};
  auto q = db_->Prepare(std::string("SELECT ") + columns_ +
                        " FROM monitor_alarms WHERE end_s IS NULL UNION ALL SELECT * FROM "
                        "(SELECT " + columns_ +
                        " FROM monitor_alarms WHERE end_s IS NOT NULL ORDER BY id DESC LIMIT ?1)");
  if (!q) return q.error();
  q->Bind(1, closed_limit);
  return Collect(*q);
}

Result<std::vector<Alarm>> AlarmStore::Query(const std::optional<std::string>& station,
                                             std::optional<bool> active, int64_t ended_since_s,
                                             int64_t limit) {
  if (!has_table_) return std::vector<Alarm>{};
  // A network alarm involves a station when its id is in the stations list
  // (a JSON array of strings: the quoted id cannot match inside another id).
  std::string sql = std::string("SELECT ") + columns_ + " FROM monitor_alarms WHERE 1";
  if (station) sql += " AND (subject = ?1 OR instr(stations, ?2) > 0)";
  if (active) sql += *active ? " AND end_s IS NULL" : " AND end_s IS NOT NULL";
  sql += " AND (end_s IS NULL OR end_s >= ?3) ORDER BY id DESC LIMIT ?4";
  auto q = db_->Prepare(sql);
  if (!q) return q.error();
  if (station) q->Bind(1, *station).Bind(2, json(*station).dump());
  q->Bind(3, ended_since_s).Bind(4, limit);
  return Collect(*q);
}

}  // namespace sentinelle::collector
