#include "sentinelle/sqlite.h"

#include <sqlite3.h>

#include <cmath>

namespace sentinelle {

namespace {
Error SqlError(sqlite3* db, std::string_view what) {
  return MakeError(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}
}  // namespace

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, const DbOptions& options) {
  sqlite3* raw = nullptr;
  const int flags = (options.read_only ? SQLITE_OPEN_READONLY
                                       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqlError(raw, "open " + path);
    sqlite3_close(raw);
    return e;
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  if (options.synchronous != "FULL" && options.synchronous != "NORMAL" &&
      options.synchronous != "OFF" && options.synchronous != "EXTRA") {
    return MakeError("synchronous must be OFF, NORMAL, FULL or EXTRA");
  }
  std::string pragmas = "PRAGMA foreign_keys=ON;";
  if (options.cache_kib > 0) pragmas += "PRAGMA cache_size=-" + std::to_string(options.cache_kib) + ";";
  if (!options.read_only) {
    if (options.wal) pragmas += "PRAGMA journal_mode=WAL;";
    pragmas += "PRAGMA synchronous=" + options.synchronous + ";";
  }
  if (auto st = db->Exec(pragmas); !st) return MakeError("open " + path + ": " + st.message());
  return db;
}

Db::~Db() { sqlite3_close_v2(db_); }

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return MakeError(msg);
  }
  return Status::Ok();
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqlError(db_, "prepare");
  return Stmt(stmt, db_);
}

Status Db::Migrate(const std::vector<std::string>& migrations) {
  auto get = Prepare("PRAGMA user_version");
  if (!get) return get.error();
  auto row = get->Step();
  if (!row) return row.error();
  const int64_t current = get->ColumnInt(0);
  if (current > static_cast<int64_t>(migrations.size())) {
    return MakeError("database " + path_ + " has schema version " + std::to_string(current) +
                     ", newer than this program knows (" + std::to_string(migrations.size()) +
                     ")");
  }
  for (size_t i = static_cast<size_t>(current); i < migrations.size(); ++i) {
    Transaction tx(*this);
    if (!tx.begun()) return tx.begin_status();
    if (auto st = Exec(migrations[i]); !st) {
      return MakeError("migration " + std::to_string(i + 1) + ": " + st.message());
    }
    if (auto st = Exec("PRAGMA user_version=" + std::to_string(i + 1)); !st) return st;
    if (auto st = tx.Commit(); !st) return st;
  }
  return Status::Ok();
}

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

Stmt::Stmt(Stmt&& o) noexcept
    : stmt_(o.stmt_), db_(o.db_), bind_error_(o.bind_error_),
      bind_error_message_(std::move(o.bind_error_message_)) {
  o.stmt_ = nullptr;
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    stmt_ = o.stmt_;
    db_ = o.db_;
    bind_error_ = o.bind_error_;
    bind_error_message_ = std::move(o.bind_error_message_);
    o.stmt_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

#define SENTINELLE_BIND(call)                                  \
  do {                                                         \
    if ((call) != SQLITE_OK && !bind_error_) {                 \
      bind_error_ = true;                                      \
      bind_error_message_ = sqlite3_errmsg(db_);               \
    }                                                          \
  } while (0)

Stmt& Stmt::Bind(int index, int64_t value) {
  SENTINELLE_BIND(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}
Stmt& Stmt::Bind(int index, double value) {
  if (std::isnan(value)) return BindNull(index);
  SENTINELLE_BIND(sqlite3_bind_double(stmt_, index, value));
  return *this;
}
Stmt& Stmt::Bind(int index, std::string_view text) {
  SENTINELLE_BIND(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                    SQLITE_TRANSIENT));
  return *this;
}
Stmt& Stmt::BindBlob(int index, std::string_view bytes) {
  SENTINELLE_BIND(sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                                    SQLITE_TRANSIENT));
  return *this;
}
Stmt& Stmt::BindNull(int index) {
  SENTINELLE_BIND(sqlite3_bind_null(stmt_, index));
  return *this;
}
#undef SENTINELLE_BIND

Result<bool> Stmt::Step() {
  if (bind_error_) return MakeError("bind: " + bind_error_message_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e = SqlError(db_, "step");
  sqlite3_reset(stmt_);
  return e;
}

Status Stmt::Run() {
  while (true) {
    auto r = Step();
    if (!r) {
      Reset();
      return r.error();
    }
    if (!*r) break;
  }
  Reset();
  return Status::Ok();
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = false;
  bind_error_message_.clear();
}

int64_t Stmt::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::ColumnDouble(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return NAN;
  return sqlite3_column_double(stmt_, col);
}
std::string Stmt::ColumnText(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}
bool Stmt::ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Transaction::Transaction(Db& db) : db_(db) {
  begin_status_ = db_.Exec("BEGIN IMMEDIATE");
  begun_ = begin_status_.ok();
}

Transaction::~Transaction() {
  if (begun_ && !done_) (void)db_.Exec("ROLLBACK");
}

Status Transaction::Commit() {
  if (!begun_) return begin_status_;
  auto st = db_.Exec("COMMIT");
  if (st) done_ = true;
  return st;
}

}  // namespace sentinelle
