#include "sentinelle/collector/sqlite_store.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

namespace sentinelle::collector {

std::string_view OriginName(ReadingOrigin o) {
  switch (o) {
    case ReadingOrigin::kLive: return "live";
    case ReadingOrigin::kReplay: return "replay";
    case ReadingOrigin::kImport: return "import";
  }
  return "live";
}

std::string_view ClockFlagName(ClockFlag f) {
  switch (f) {
    case ClockFlag::kOk: return "ok";
    case ClockFlag::kUnsynced: return "unsynced";
    case ClockFlag::kSkew: return "skew";
  }
  return "ok";
}

namespace {

std::string ReadingColumns() {
  std::string cols;
  for (const auto& info : Variables()) cols += std::string(info.name) + " REAL,\n";
  return cols;
}

std::string ValueColumnList() {
  std::string cols;
  for (const auto& info : Variables()) cols += ", " + std::string(info.name);
  return cols;
}

// QC flags of the 12 variables packed 4 bits each (variable i at bits 4i..4i+3).
int64_t PackQc(const Reading& r) {
  int64_t packed = 0;
  for (int i = 0; i < kVariableCount; ++i) {
    packed |= static_cast<int64_t>(r.qc[i]) << (4 * i);
  }
  return packed;
}

void UnpackQc(int64_t packed, Reading& r) {
  for (int i = 0; i < kVariableCount; ++i) {
    const int f = static_cast<int>((packed >> (4 * i)) & 0xF);
    r.qc[i] = f < kQcFlagCount ? static_cast<QcFlag>(f) : QcFlag::kInvalid;
  }
}

std::string PackSamples(const Reading& r) {
  std::string out(2 * kVariableCount, '\0');
  for (int i = 0; i < kVariableCount; ++i) {
    out[2 * i] = static_cast<char>(r.samples[i] & 0xFF);
    out[2 * i + 1] = static_cast<char>(r.samples[i] >> 8);
  }
  return out;
}

void UnpackSamples(const std::string& blob, Reading& r) {
  if (blob.size() != 2 * kVariableCount) return;
  for (int i = 0; i < kVariableCount; ++i) {
    r.samples[i] = static_cast<uint16_t>(static_cast<uint8_t>(blob[2 * i]) |
                                         (static_cast<uint8_t>(blob[2 * i + 1]) << 8));
  }
}

const char* kStationColumns =
    "s.id, s.name, s.latitude, s.longitude, s.type, s.registered, s.first_seen_ms, "
    "s.last_reading_ms, s.last_window_end, s.reading_count, s.status_state, "
    "s.status_received_ms, s.status_payload";

StationRecord StationFromRow(const Stmt& q) {
  StationRecord rec;
  rec.info.id = q.ColumnText(0);
  rec.info.name = q.ColumnText(1);
  rec.info.latitude = q.ColumnDouble(2);
  rec.info.longitude = q.ColumnDouble(3);
  rec.info.type = q.ColumnText(4);
  rec.info.registered = q.ColumnInt(5) != 0;
  rec.first_seen_ms = q.ColumnInt(6);
  rec.last_reading_ms = q.ColumnInt(7);
  rec.last_window_end_s = q.ColumnInt(8);
  rec.reading_count = q.ColumnInt(9);
  if (!q.ColumnIsNull(10)) {
    StationStatusRecord st;
    st.station_id = rec.info.id;
    st.state = q.ColumnText(10);
    st.received_ms = q.ColumnInt(11);
    st.payload = q.ColumnText(12);
    rec.status = std::move(st);
  }
  return rec;
}

}  // namespace

const std::vector<std::string>& SqliteHistoryStore::Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: initial schema.
      "CREATE TABLE stations(\n"
      "  key INTEGER PRIMARY KEY,\n"
      "  id TEXT NOT NULL UNIQUE,\n"
      "  name TEXT NOT NULL DEFAULT '',\n"
      "  latitude REAL, longitude REAL,\n"
      "  type TEXT NOT NULL DEFAULT '',\n"
      "  registered INTEGER NOT NULL DEFAULT 0,\n"
      "  first_seen_ms INTEGER NOT NULL,\n"
      "  last_reading_ms INTEGER NOT NULL DEFAULT 0,\n"
      "  last_window_end INTEGER NOT NULL DEFAULT 0,\n"
      "  reading_count INTEGER NOT NULL DEFAULT 0,\n"
      "  status_state TEXT, status_received_ms INTEGER, status_payload TEXT);\n"
      "CREATE TABLE readings(\n"
      "  station INTEGER NOT NULL,\n"
      "  window_end INTEGER NOT NULL,\n"
      "  seq INTEGER NOT NULL,\n"
      "  interval_s INTEGER NOT NULL,\n"
      "  boot_id TEXT NOT NULL,\n"
      "  origin INTEGER NOT NULL,\n"
      "  time_synced INTEGER NOT NULL,\n"
      "  time_source TEXT NOT NULL,\n"
      "  clock_flag INTEGER NOT NULL,\n"
      "  arrival_ms INTEGER NOT NULL,\n" +
          ReadingColumns() +
          "  qc INTEGER NOT NULL,\n"
          "  n BLOB,\n"
          "  aqi INTEGER, aqi_dominant TEXT,\n"
          "  PRIMARY KEY(station, window_end)) WITHOUT ROWID;\n"
          "CREATE INDEX readings_by_seq ON readings(station, seq);\n"
          "CREATE TABLE predictions(\n"
          "  station INTEGER NOT NULL,\n"
          "  issued INTEGER NOT NULL,\n"
          "  target TEXT NOT NULL,\n"
          "  horizon_min INTEGER NOT NULL,\n"
          "  value REAL,\n"
          "  model_kind TEXT NOT NULL,\n"
          "  model_version TEXT NOT NULL,\n"
          "  fallback_reason TEXT NOT NULL,\n"
          "  arrival_ms INTEGER NOT NULL,\n"
          "  PRIMARY KEY(station, issued, target, horizon_min)) WITHOUT ROWID;\n"
          "CREATE TABLE gaps(\n"
          "  id INTEGER PRIMARY KEY,\n"
          "  station INTEGER NOT NULL,\n"
          "  from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,\n"
          "  state TEXT NOT NULL,\n"
          "  detected_ms INTEGER NOT NULL,\n"
          "  attempts INTEGER NOT NULL,\n"
          "  last_request_ms INTEGER NOT NULL,\n"
          "  closed_ms INTEGER NOT NULL,\n"
          "  reason TEXT NOT NULL);\n"
          "CREATE INDEX gaps_by_state ON gaps(state, station);\n",
  };
  return kMigrations;
}

// Writer connection with its statements prepared once.
struct SqliteHistoryStore::Writer {
  std::unique_ptr<Db> db;
  std::optional<Stmt> insert_reading;
  std::optional<Stmt> insert_station;
  std::optional<Stmt> station_key;
  std::optional<Stmt> update_counters;
  std::optional<Stmt> update_status;
  std::optional<Stmt> insert_prediction;
  std::optional<Stmt> delete_open_gaps;
  std::optional<Stmt> insert_gap;
  std::optional<Stmt> upsert_registry;
  std::unordered_map<std::string, int64_t> keys;

  Result<int64_t> Key(const std::string& id, int64_t now_ms) {
    if (auto it = keys.find(id); it != keys.end()) return it->second;
    station_key->Bind(1, id);
    auto row = station_key->Step();
    if (!row) return row.error();
    if (*row) {
      const int64_t key = station_key->ColumnInt(0);
      station_key->Reset();
      keys.emplace(id, key);
      return key;
    }
    station_key->Reset();
    insert_station->Bind(1, id).Bind(2, now_ms);
    if (auto st = insert_station->Run(); !st) return st.error();
    const int64_t key = db->LastInsertRowId();
    keys.emplace(id, key);
    return key;
  }
};

class SqliteHistoryStore::ReaderLease {
 public:
  ReaderLease(SqliteHistoryStore* store, std::unique_ptr<Db> db)
      : store_(store), db_(std::move(db)) {}
  ReaderLease(ReaderLease&& o) noexcept : store_(o.store_), db_(std::move(o.db_)) {}
  ReaderLease& operator=(ReaderLease&&) = delete;
  ~ReaderLease() {
    if (db_) store_->ReleaseReader(std::move(db_));
  }
  Db& db() { return *db_; }

 private:
  SqliteHistoryStore* store_;
  std::unique_ptr<Db> db_;
};

SqliteHistoryStore::SqliteHistoryStore(SqliteStoreOptions options)
    : options_(std::move(options)) {}

SqliteHistoryStore::~SqliteHistoryStore() = default;

Result<std::unique_ptr<SqliteHistoryStore>> SqliteHistoryStore::Open(
    const SqliteStoreOptions& options) {
  DbOptions dbo;
  dbo.wal = true;
  dbo.synchronous = options.synchronous;
  dbo.busy_timeout_ms = options.busy_timeout_ms;
  auto db = Db::Open(options.path, dbo);
  if (!db) return db.error();
  if (auto st = (*db)->Migrate(Migrations()); !st) return st.error();
  // A larger page cache keeps the (station, window_end) B-tree's inner pages
  // in memory while thousands of stations insert at once.
  if (auto st = (*db)->Exec("PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"); !st) {
    return st.error();
  }
  std::unique_ptr<SqliteHistoryStore> store(new SqliteHistoryStore(options));
  auto w = std::make_unique<Writer>();
  w->db = std::move(*db);
  std::string placeholders;
  for (int i = 0; i < kVariableCount; ++i) placeholders += ",?";
  struct Prep {
    std::optional<Stmt>* stmt;
    std::string sql;
  };
  const std::vector<Prep> preps = {
      {&w->insert_reading,
       "INSERT OR IGNORE INTO readings(station, window_end, seq, interval_s, boot_id, origin, "
       "time_synced, time_source, clock_flag, arrival_ms" +
           ValueColumnList() + ", qc, n, aqi, aqi_dominant) VALUES(?,?,?,?,?,?,?,?,?,?" +
           placeholders + ",?,?,?,?)"},
      {&w->insert_station, "INSERT INTO stations(id, first_seen_ms) VALUES(?, ?)"},
      {&w->station_key, "SELECT key FROM stations WHERE id = ?"},
      {&w->update_counters,
       "UPDATE stations SET reading_count = reading_count + ?2, "
       "last_reading_ms = max(last_reading_ms, ?3), "
       "last_window_end = max(last_window_end, ?4) WHERE key = ?1"},
      {&w->update_status,
       "UPDATE stations SET status_state = ?2, status_received_ms = ?3, status_payload = ?4 "
       "WHERE key = ?1"},
      {&w->insert_prediction,
       "INSERT OR IGNORE INTO predictions(station, issued, target, horizon_min, value, "
       "model_kind, model_version, fallback_reason, arrival_ms) VALUES(?,?,?,?,?,?,?,?,?)"},
      {&w->delete_open_gaps, "DELETE FROM gaps WHERE station = ? AND state = 'open'"},
      {&w->insert_gap,
       "INSERT INTO gaps(station, from_seq, to_seq, state, detected_ms, attempts, "
       "last_request_ms, closed_ms, reason) VALUES(?,?,?,?,?,?,?,?,?)"},
      {&w->upsert_registry,
       "INSERT INTO stations(id, name, latitude, longitude, type, registered, first_seen_ms) "
       "VALUES(?1, ?2, ?3, ?4, ?5, 1, ?6) ON CONFLICT(id) DO UPDATE SET name = ?2, "
       "latitude = ?3, longitude = ?4, type = ?5, registered = 1"},
  };
  for (const auto& p : preps) {
    auto s = w->db->Prepare(p.sql);
    if (!s) return MakeError("prepare: " + s.message());
    *p.stmt = std::move(*s);
  }
  store->writer_ = std::move(w);
  return store;
}

Result<CommitResult> SqliteHistoryStore::Commit(const WriteBatch& batch) {
  std::lock_guard<std::mutex> lock(writer_mu_);
  Writer& w = *writer_;
  CommitResult result;
  // Station keys created inside a transaction that rolls back must not stay cached.
  auto keys_before = w.keys.size();
  Transaction tx(*w.db);
  if (!tx.begun()) return tx.begin_status().error();
  auto fail = [&](const Error& e) -> Result<CommitResult> {
    if (w.keys.size() != keys_before) w.keys.clear();
    return e;
  };
  struct Counters {
    int64_t inserted = 0;
    int64_t last_arrival = 0;
    int64_t last_end = 0;
  };
  std::unordered_map<int64_t, Counters> per_station;
  for (const StoredReading& sr : batch.readings) {
    const Reading& r = sr.reading;
    auto key = w.Key(r.station_id, sr.arrival_ms);
    if (!key) return fail(key.error());
    Stmt& s = *w.insert_reading;
    s.Bind(1, *key)
        .Bind(2, r.window_end_s)
        .Bind(3, r.seq)
        .Bind(4, int64_t{r.interval_s})
        .Bind(5, r.boot_id)
        .Bind(6, int64_t{static_cast<int>(sr.origin)})
        .Bind(7, int64_t{r.time.synced ? 1 : 0})
        .Bind(8, r.time.source)
        .Bind(9, int64_t{static_cast<int>(sr.clock)})
        .Bind(10, sr.arrival_ms);
    for (int i = 0; i < kVariableCount; ++i) s.Bind(11 + i, r.values[i]);
    s.Bind(23, PackQc(r)).BindBlob(24, PackSamples(r));
    if (r.aqi) s.Bind(25, int64_t{*r.aqi});
    else s.BindNull(25);
    if (r.aqi_dominant) s.Bind(26, Name(*r.aqi_dominant));
    else s.BindNull(26);
    if (auto st = s.Run(); !st) return fail(st.error());
    if (w.db->Changes() > 0) {
      ++result.inserted;
      Counters& c = per_station[*key];
      ++c.inserted;
      c.last_arrival = std::max(c.last_arrival, sr.arrival_ms);
      c.last_end = std::max(c.last_end, r.window_end_s);
    } else {
      ++result.duplicates;
    }
  }
  for (const auto& [key, c] : per_station) {
    w.update_counters->Bind(1, key).Bind(2, c.inserted).Bind(3, c.last_arrival).Bind(4, c.last_end);
    if (auto st = w.update_counters->Run(); !st) return fail(st.error());
  }
  for (const PredictionRecord& p : batch.predictions) {
    auto key = w.Key(p.station_id, p.arrival_ms);
    if (!key) return fail(key.error());
    w.insert_prediction->Bind(1, *key)
        .Bind(2, p.issued_s)
        .Bind(3, p.target)
        .Bind(4, int64_t{p.horizon_min})
        .Bind(5, p.value)
        .Bind(6, p.model_kind)
        .Bind(7, p.model_version)
        .Bind(8, p.fallback_reason)
        .Bind(9, p.arrival_ms);
    if (auto st = w.insert_prediction->Run(); !st) return fail(st.error());
    result.predictions_inserted += w.db->Changes();
  }
  for (const StationStatusRecord& s : batch.statuses) {
    auto key = w.Key(s.station_id, s.received_ms);
    if (!key) return fail(key.error());
    w.update_status->Bind(1, *key).Bind(2, s.state).Bind(3, s.received_ms).Bind(4, s.payload);
    if (auto st = w.update_status->Run(); !st) return fail(st.error());
  }
  auto insert_gap = [&](int64_t key, const GapRecord& g) -> Status {
    w.insert_gap->Bind(1, key)
        .Bind(2, g.from_seq)
        .Bind(3, g.to_seq)
        .Bind(4, g.state)
        .Bind(5, g.detected_ms)
        .Bind(6, int64_t{g.attempts})
        .Bind(7, g.last_request_ms)
        .Bind(8, g.closed_ms)
        .Bind(9, g.reason);
    return w.insert_gap->Run();
  };
  for (const auto& [station, gaps] : batch.open_gaps) {
    auto key = w.Key(station, 0);
    if (!key) return fail(key.error());
    w.delete_open_gaps->Bind(1, *key);
    if (auto st = w.delete_open_gaps->Run(); !st) return fail(st.error());
    for (const GapRecord& g : gaps) {
      if (auto st = insert_gap(*key, g); !st) return fail(st.error());
    }
  }
  for (const GapRecord& g : batch.lost_gaps) {
    auto key = w.Key(g.station_id, 0);
    if (!key) return fail(key.error());
    if (auto st = insert_gap(*key, g); !st) return fail(st.error());
  }
  if (auto st = tx.Commit(); !st) return fail(st.error());
  return result;
}

Status SqliteHistoryStore::UpsertStation(const StationInfo& info) {
  std::lock_guard<std::mutex> lock(writer_mu_);
  Writer& w = *writer_;
  w.upsert_registry->Bind(1, info.id)
      .Bind(2, info.name)
      .Bind(3, info.latitude)
      .Bind(4, info.longitude)
      .Bind(5, info.type)
      .Bind(6, int64_t{0});
  return w.upsert_registry->Run();
}

Result<SqliteHistoryStore::ReaderLease> SqliteHistoryStore::AcquireReader() {
  std::unique_lock<std::mutex> lock(readers_mu_);
  while (idle_readers_.empty() && open_readers_ >= options_.reader_connections) {
    readers_cv_.wait(lock);
  }
  if (!idle_readers_.empty()) {
    auto db = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    return ReaderLease(this, std::move(db));
  }
  ++open_readers_;
  lock.unlock();
  DbOptions dbo;
  dbo.read_only = true;
  dbo.busy_timeout_ms = options_.busy_timeout_ms;
  auto db = Db::Open(options_.path, dbo);
  if (!db) {
    std::lock_guard<std::mutex> relock(readers_mu_);
    --open_readers_;
    readers_cv_.notify_one();
    return db.error();
  }
  return ReaderLease(this, std::move(*db));
}

void SqliteHistoryStore::ReleaseReader(std::unique_ptr<Db> db) {
  std::lock_guard<std::mutex> lock(readers_mu_);
  idle_readers_.push_back(std::move(db));
  readers_cv_.notify_one();
}

Result<std::vector<StationRecord>> SqliteHistoryStore::ListStations() {
  auto lease = AcquireReader();
  if (!lease) return lease.error();
  auto q = lease->db().Prepare(std::string("SELECT ") + kStationColumns +
                               " FROM stations s ORDER BY s.id");
  if (!q) return q.error();
  std::vector<StationRecord> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(StationFromRow(*q));
  }
  return out;
}

Result<std::optional<StationRecord>> SqliteHistoryStore::GetStation(const std::string& id) {
  auto lease = AcquireReader();
  if (!lease) return lease.error();
  auto q = lease->db().Prepare(std::string("SELECT ") + kStationColumns +
                               " FROM stations s WHERE s.id = ?");
  if (!q) return q.error();
  q->Bind(1, id);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return std::optional<StationRecord>();
  return std::optional<StationRecord>(StationFromRow(*q));
}

Result<std::vector<StoredReading>> SqliteHistoryStore::QueryReadings(const std::string& station_id,
                                                                     TimeRange range,
                                                                     int64_t limit) {
  auto lease = AcquireReader();
  if (!lease) return lease.error();
  auto q = lease->db().Prepare(
      "SELECT r.window_end, r.seq, r.interval_s, r.boot_id, r.origin, r.time_synced, "
      "r.time_source, r.clock_flag, r.arrival_ms" +
      ValueColumnList() +
      ", r.qc, r.n, r.aqi, r.aqi_dominant FROM readings r JOIN stations s ON s.key = r.station "
      "WHERE s.id = ?1 AND r.window_end >= ?2 AND r.window_end < ?3 "
      "ORDER BY r.window_end LIMIT ?4");
  if (!q) return q.error();
  q->Bind(1, station_id).Bind(2, range.from_s).Bind(3, range.to_s).Bind(4, limit);
  std::vector<StoredReading> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    StoredReading sr;
    Reading& r = sr.reading;
    r.station_id = station_id;
    r.window_end_s = q->ColumnInt(0);
    r.seq = q->ColumnInt(1);
    r.interval_s = static_cast<int32_t>(q->ColumnInt(2));
    r.boot_id = q->ColumnText(3);
    const int64_t origin = q->ColumnInt(4);
    sr.origin = origin >= 0 && origin <= 2 ? static_cast<ReadingOrigin>(origin)
                                           : ReadingOrigin::kLive;
    r.time.synced = q->ColumnInt(5) != 0;
    r.time.source = q->ColumnText(6);
    const int64_t clock = q->ColumnInt(7);
    sr.clock = clock >= 0 && clock <= 2 ? static_cast<ClockFlag>(clock) : ClockFlag::kOk;
    sr.arrival_ms = q->ColumnInt(8);
    for (int i = 0; i < kVariableCount; ++i) r.values[i] = q->ColumnDouble(9 + i);
    UnpackQc(q->ColumnInt(21), r);
    UnpackSamples(q->ColumnText(22), r);
    if (!q->ColumnIsNull(23)) r.aqi = static_cast<int>(q->ColumnInt(23));
    if (!q->ColumnIsNull(24)) r.aqi_dominant = VariableFromName(q->ColumnText(24));
    out.push_back(std::move(sr));
  }
  return out;
}

Result<std::vector<PredictionRecord>> SqliteHistoryStore::QueryPredictions(
    const std::string& station_id, TimeRange range, int64_t limit) {
  auto lease = AcquireReader();
  if (!lease) return lease.error();
  auto q = lease->db().Prepare(
      "SELECT p.issued, p.target, p.horizon_min, p.value, p.model_kind, p.model_version, "
      "p.fallback_reason, p.arrival_ms FROM predictions p JOIN stations s ON s.key = p.station "
      "WHERE s.id = ?1 AND p.issued >= ?2 AND p.issued < ?3 "
      "ORDER BY p.issued, p.target, p.horizon_min LIMIT ?4");
  if (!q) return q.error();
  q->Bind(1, station_id).Bind(2, range.from_s).Bind(3, range.to_s).Bind(4, limit);
  std::vector<PredictionRecord> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    PredictionRecord p;
    p.station_id = station_id;
    p.issued_s = q->ColumnInt(0);
    p.target = q->ColumnText(1);
    p.horizon_min = static_cast<int>(q->ColumnInt(2));
    p.value = q->ColumnDouble(3);
    p.model_kind = q->ColumnText(4);
    p.model_version = q->ColumnText(5);
    p.fallback_reason = q->ColumnText(6);
    p.arrival_ms = q->ColumnInt(7);
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<GapRecord>> SqliteHistoryStore::ListGaps(int64_t lost_since_ms) {
  auto lease = AcquireReader();
  if (!lease) return lease.error();
  auto q = lease->db().Prepare(
      "SELECT s.id, g.from_seq, g.to_seq, g.state, g.detected_ms, g.attempts, "
      "g.last_request_ms, g.closed_ms, g.reason FROM gaps g JOIN stations s ON s.key = g.station "
      "WHERE g.state = 'open' OR (g.state = 'lost' AND g.closed_ms >= ?1) "
      "ORDER BY s.id, g.from_seq");
  if (!q) return q.error();
  q->Bind(1, lost_since_ms);
  std::vector<GapRecord> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    GapRecord g;
    g.station_id = q->ColumnText(0);
    g.from_seq = q->ColumnInt(1);
    g.to_seq = q->ColumnInt(2);
    g.state = q->ColumnText(3);
    g.detected_ms = q->ColumnInt(4);
    g.attempts = static_cast<int>(q->ColumnInt(5));
    g.last_request_ms = q->ColumnInt(6);
    g.closed_ms = q->ColumnInt(7);
    g.reason = q->ColumnText(8);
    out.push_back(std::move(g));
  }
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> SqliteHistoryStore::HighestSeqs() {
  auto lease = AcquireReader();
  if (!lease) return lease.error();
  // One index probe per station: MAX over the (station, seq) index.
  auto q = lease->db().Prepare(
      "SELECT s.id, (SELECT max(r.seq) FROM readings r WHERE r.station = s.key) AS m "
      "FROM stations s WHERE m IS NOT NULL AND m > 0");
  if (!q) return q.error();
  std::vector<std::pair<std::string, int64_t>> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.emplace_back(q->ColumnText(0), q->ColumnInt(1));
  }
  return out;
}

Result<std::vector<int64_t>> SqliteHistoryStore::StoredSeqs(const std::string& station_id,
                                                             int64_t from_seq, int64_t to_seq) {
  auto lease = AcquireReader();
  if (!lease) return lease.error();
  auto q = lease->db().Prepare(
      "SELECT r.seq FROM readings r JOIN stations s ON s.key = r.station "
      "WHERE s.id = ?1 AND r.seq BETWEEN ?2 AND ?3 ORDER BY r.seq");
  if (!q) return q.error();
  q->Bind(1, station_id).Bind(2, from_seq).Bind(3, to_seq);
  std::vector<int64_t> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(q->ColumnInt(0));
  }
  return out;
}

bool SqliteHistoryStore::Healthy() {
  auto lease = AcquireReader();
  if (!lease) return false;
  auto q = lease->db().Prepare("SELECT count(*) FROM sqlite_master");
  if (!q) return false;
  auto row = q->Step();
  return row.ok() && *row;
}

}  // namespace sentinelle::collector
