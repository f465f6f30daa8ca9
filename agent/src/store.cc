#include "sentinelle/agent/store.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "sentinelle/version.h"

namespace sentinelle::agent {

namespace {

// Schema history; each entry runs once, in order (Db::Migrate).
const std::vector<std::string> kMigrations = {
    // 1: outbox + history of readings, seq counter.
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('last_seq', 0), ('last_window_end_s', 0);
CREATE TABLE readings(
  seq INTEGER PRIMARY KEY,
  window_end_s INTEGER NOT NULL,
  boot_id TEXT NOT NULL,
  confirmed INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL,
  fragment TEXT NOT NULL);
CREATE INDEX readings_by_state ON readings(confirmed, seq);
)sql",
    // 2: boot history and the owning station.
    R"sql(
CREATE TABLE boots(
  n INTEGER PRIMARY KEY AUTOINCREMENT,
  boot_id TEXT NOT NULL,
  started_unix_ms INTEGER NOT NULL,
  agent_version TEXT NOT NULL);
INSERT INTO meta(key, value) VALUES ('station_id', '');
)sql",
};

constexpr std::string_view kSelectMeta = "SELECT value FROM meta WHERE key = ?";
constexpr std::string_view kUpdateMeta = "UPDATE meta SET value = ? WHERE key = ?";
constexpr std::string_view kInsertBoot =
    "INSERT INTO boots(boot_id, started_unix_ms, agent_version) VALUES (?, ?, ?)";
constexpr std::string_view kCountBoots = "SELECT COUNT(*) FROM boots";
constexpr std::string_view kTotals =
    "SELECT COUNT(*), COALESCE(SUM(bytes), 0), COALESCE(SUM(confirmed = 0), 0) FROM readings";
constexpr std::string_view kInsertReading =
    "INSERT INTO readings(seq, window_end_s, boot_id, confirmed, bytes, fragment) "
    "VALUES (?, ?, ?, 0, ?, ?)";
constexpr std::string_view kOldestConfirmed =
    "SELECT seq, bytes FROM readings WHERE confirmed = 1 ORDER BY seq LIMIT 1";
constexpr std::string_view kOldestUnconfirmed =
    "SELECT seq, bytes, window_end_s FROM readings WHERE confirmed = 0 ORDER BY seq LIMIT 1";
constexpr std::string_view kDeleteReading = "DELETE FROM readings WHERE seq = ?";
constexpr std::string_view kSelectUnconfirmed =
    "SELECT seq, window_end_s, fragment FROM readings WHERE confirmed = 0 AND seq > ? "
    "ORDER BY seq LIMIT ?";
constexpr std::string_view kSelectRange =
    "SELECT seq, window_end_s, fragment FROM readings WHERE seq BETWEEN ? AND ? "
    "ORDER BY seq LIMIT ?";
constexpr std::string_view kConfirmRange =
    "UPDATE readings SET confirmed = 1 WHERE confirmed = 0 AND seq BETWEEN ? AND ?";
constexpr std::string_view kCountUnconfirmedUpTo =
    "SELECT COUNT(*) FROM readings WHERE confirmed = 0 AND seq <= ?";

constexpr std::string_view kReadingsOpen = "\"readings\":[";
constexpr std::string_view kReadingsClose = "],\"schema\":";

Status SetMeta(Db& db, std::string_view key, int64_t value) {
  auto st = db.Prepare(kUpdateMeta);
  if (!st) return st.error();
  return st->Bind(1, value).Bind(2, key).Run();
}

Result<std::vector<StoredReading>> Rows(Stmt& st) {
  std::vector<StoredReading> out;
  while (true) {
    auto row = st.Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({st.ColumnInt(0), st.ColumnInt(1), st.ColumnText(2)});
  }
  st.Reset();
  return out;
}

}  // namespace

std::string EncodeReadingFragment(const Reading& reading) {
  ReadingBatch one{reading.station_id, DeliveryKind::kLive, {reading}};
  const std::string batch = EncodeReadingBatch(one);
  // nlohmann::json orders keys: {"kind":..,"readings":[R],"schema":..,"station":..}.
  const size_t open = batch.find(kReadingsOpen);
  const size_t close = batch.rfind(kReadingsClose);
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return std::string();  // the codec changed shape; BuildBatchPayload tests catch this
  }
  const size_t begin = open + kReadingsOpen.size();
  return batch.substr(begin, close - begin);
}

std::string BuildBatchPayload(std::string_view station_id, DeliveryKind kind,
                              const std::vector<const std::string*>& fragments) {
  size_t size = 96 + station_id.size();
  for (const std::string* f : fragments) size += f->size() + 1;
  std::string out;
  out.reserve(size);
  out += "{\"kind\":\"";
  out += DeliveryKindName(kind);
  out += "\",";
  out += kReadingsOpen;
  for (size_t i = 0; i < fragments.size(); ++i) {
    if (i > 0) out += ',';
    out += *fragments[i];
  }
  out += kReadingsClose;
  out += std::to_string(kSchemaVersion);
  out += ",\"station\":\"";
  out += station_id;  // validated [a-z0-9_-]: needs no escaping
  out += "\"}";
  return out;
}

size_t RowsThatFit(std::string_view station_id, const std::vector<StoredReading>& rows,
                   size_t count, size_t max_bytes) {
  // The envelope of the longest kind ("replay"), without readings.
  size_t bytes = BuildBatchPayload(station_id, DeliveryKind::kReplay, {}).size();
  size_t n = 0;
  while (n < count && n < rows.size()) {
    bytes += rows[n].fragment.size() + (n > 0 ? 1 : 0);
    if (n > 0 && bytes > max_bytes) break;
    ++n;
  }
  return n;
}

Store::Store(StoreConfig config, std::string station_id, std::unique_ptr<Db> db)
    : config_(std::move(config)), station_id_(std::move(station_id)), db_(std::move(db)) {}

Result<std::unique_ptr<Store>> Store::Open(const StoreConfig& config, std::string station_id,
                                           std::string boot_id) {
  auto db = Db::Open(config.path, config.db);
  if (!db) return db.error();
  if (auto st = (*db)->Migrate(kMigrations); !st) return st.error();
  std::unique_ptr<Store> store(new Store(config, std::move(station_id), std::move(*db)));
  if (auto st = store->Load(boot_id); !st) return st.error();
  return store;
}

Status Store::Load(const std::string& boot_id) {
  auto meta = db_->Prepare(kSelectMeta);
  if (!meta) return meta.error();
  auto read = [&](std::string_view key) -> Result<std::string> {
    meta->Bind(1, key);
    auto row = meta->Step();
    if (!row) return row.error();
    std::string v = *row ? meta->ColumnText(0) : std::string();
    meta->Reset();
    return v;
  };
  auto owner = read("station_id");
  if (!owner) return owner.error();
  if (!owner->empty() && *owner != station_id_) {
    return MakeError("store " + config_.path + " belongs to station '" + *owner + "', not '" +
                     station_id_ + "'");
  }
  auto seq = read("last_seq");
  auto end = read("last_window_end_s");
  if (!seq) return seq.error();
  if (!end) return end.error();
  last_seq_ = std::stoll(*seq);
  last_window_end_s_ = std::stoll(*end);

  Transaction tx(*db_);
  if (!tx.begun()) return tx.begin_status();
  if (owner->empty()) {
    auto st = db_->Prepare("UPDATE meta SET value = ? WHERE key = 'station_id'");
    if (!st) return st.error();
    if (auto s = st->Bind(1, std::string_view(station_id_)).Run(); !s) return s;
  }
  auto boot = db_->Prepare(kInsertBoot);
  if (!boot) return boot.error();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  if (auto s = boot->Bind(1, std::string_view(boot_id)).Bind(2, now_ms).Bind(3, kVersion).Run();
      !s) {
    return s;
  }
  if (auto s = tx.Commit(); !s) return s;
  auto count = db_->Prepare(kCountBoots);
  if (!count) return count.error();
  if (auto row = count->Step(); !row) return row.error();
  boot_count_ = count->ColumnInt(0);
  return Refresh();
}

Status Store::Refresh() {
  auto st = db_->Prepare(kTotals);
  if (!st) return st.error();
  auto row = st->Step();
  if (!row) return row.error();
  rows_ = st->ColumnInt(0);
  bytes_ = st->ColumnInt(1);
  unconfirmed_ = st->ColumnInt(2);
  return Status::Ok();
}

Status Store::Commit(Reading& reading) {
  const int64_t seq = last_seq_ + 1;
  Reading r = reading;
  r.seq = seq;
  const std::string fragment = EncodeReadingFragment(r);
  if (fragment.empty()) return MakeError("reading encoder produced no fragment");
  const auto size = static_cast<int64_t>(fragment.size());

  Transaction tx(*db_);
  if (!tx.begun()) return tx.begin_status();
  // Budget: oldest confirmed first, then oldest unconfirmed.
  int64_t rows = rows_, bytes = bytes_, unconfirmed = unconfirmed_;
  StoreCounters delta;
  std::vector<int64_t> lost_seqs;
  while (rows > 0 && (rows + 1 > config_.max_rows || bytes + size > config_.max_bytes)) {
    bool confirmed = true;
    auto pick = db_->Prepare(kOldestConfirmed);
    if (!pick) return pick.error();
    auto row = pick->Step();
    if (!row) return row.error();
    if (!*row) {
      confirmed = false;
      pick = db_->Prepare(kOldestUnconfirmed);
      if (!pick) return pick.error();
      row = pick->Step();
      if (!row) return row.error();
      if (!*row) break;
    }
    const int64_t victim = pick->ColumnInt(0);
    const int64_t victim_bytes = pick->ColumnInt(1);
    auto del = db_->Prepare(kDeleteReading);
    if (!del) return del.error();
    if (auto s = del->Bind(1, victim).Run(); !s) return s;
    --rows;
    bytes -= victim_bytes;
    if (confirmed) {
      ++delta.evicted_confirmed;
    } else {
      --unconfirmed;
      ++delta.dropped_unconfirmed;
      lost_seqs.push_back(victim);
    }
  }
  auto ins = db_->Prepare(kInsertReading);
  if (!ins) return ins.error();
  if (auto s = ins->Bind(1, seq)
                   .Bind(2, r.window_end_s)
                   .Bind(3, std::string_view(r.boot_id))
                   .Bind(4, size)
                   .Bind(5, std::string_view(fragment))
                   .Run();
      !s) {
    return s;
  }
  if (auto s = SetMeta(*db_, "last_seq", seq); !s) return s;
  if (auto s = SetMeta(*db_, "last_window_end_s", r.window_end_s); !s) return s;
  if (auto s = tx.Commit(); !s) return s;

  last_seq_ = seq;
  last_window_end_s_ = r.window_end_s;
  rows_ = rows + 1;
  bytes_ = bytes + size;
  unconfirmed_ = unconfirmed + 1;
  counters_.evicted_confirmed += delta.evicted_confirmed;
  counters_.dropped_unconfirmed += delta.dropped_unconfirmed;
  if (delta.evicted_confirmed > 0) {
    spdlog::info("store: disk budget full, evicted {} confirmed reading(s) to make room",
                 delta.evicted_confirmed);
  }
  for (int64_t lost : lost_seqs) {
    spdlog::warn("store: disk budget full, dropped unconfirmed reading seq {} (policy: oldest "
                 "unconfirmed after all confirmed)",
                 lost);
  }
  reading.seq = seq;
  return Status::Ok();
}

Result<std::vector<StoredReading>> Store::Unconfirmed(int64_t after_seq, int limit) {
  auto st = db_->Prepare(kSelectUnconfirmed);
  if (!st) return st.error();
  st->Bind(1, after_seq).Bind(2, int64_t{limit});
  return Rows(*st);
}

Result<std::vector<StoredReading>> Store::Range(int64_t from_seq, int64_t to_seq, int limit) {
  auto st = db_->Prepare(kSelectRange);
  if (!st) return st.error();
  st->Bind(1, from_seq).Bind(2, to_seq).Bind(3, int64_t{limit});
  return Rows(*st);
}

Result<int64_t> Store::Confirm(const std::vector<SeqRange>& ranges) {
  // See StoreConfig::relaxed_confirm_sync. In WAL mode NORMAL never corrupts
  // the database; a power cut can only roll the confirmation back.
  const std::string& sync = config_.db.synchronous;
  const bool relax =
      config_.relaxed_confirm_sync && config_.db.wal && (sync == "FULL" || sync == "EXTRA");
  if (relax) {
    if (auto s = db_->Exec("PRAGMA synchronous=NORMAL"); !s) return s.error();
  }
  auto run = [&]() -> Result<int64_t> {
    Transaction tx(*db_);
    if (!tx.begun()) return tx.begin_status().error();
    auto st = db_->Prepare(kConfirmRange);
    if (!st) return st.error();
    int64_t changed = 0;
    for (const SeqRange& r : ranges) {
      if (auto s = st->Bind(1, r.first).Bind(2, r.last).Run(); !s) return s.error();
      changed += db_->Changes();
    }
    if (auto s = tx.Commit(); !s) return s.error();
    return changed;
  };
  auto changed = run();
  // Committed rows count even if restoring the setting fails below.
  if (changed) unconfirmed_ -= *changed;
  if (relax) {
    if (auto s = db_->Exec("PRAGMA synchronous=" + sync); !s) {
      return MakeError("restoring synchronous=" + sync + " after a confirmation: " + s.message());
    }
  }
  return changed;
}

Result<int> Store::TEST_Synchronous() {
  auto st = db_->Prepare("PRAGMA synchronous");
  if (!st) return st.error();
  if (auto row = st->Step(); !row) return row.error();
  return static_cast<int>(st->ColumnInt(0));
}

Result<int64_t> Store::CountUnconfirmedUpTo(int64_t up_to_seq) {
  auto st = db_->Prepare(kCountUnconfirmedUpTo);
  if (!st) return st.error();
  auto row = st->Bind(1, up_to_seq).Step();
  if (!row) return row.error();
  return st->ColumnInt(0);
}

Status Store::TEST_SetMaxPageCount(int64_t pages) {
  return db_->Exec("PRAGMA max_page_count=" + std::to_string(pages > 0 ? pages : 1073741823));
}

Result<int64_t> Store::TEST_PageCount() {
  auto st = db_->Prepare("PRAGMA page_count");
  if (!st) return st.error();
  if (auto row = st->Step(); !row) return row.error();
  return st->ColumnInt(0);
}

}  // namespace sentinelle::agent
