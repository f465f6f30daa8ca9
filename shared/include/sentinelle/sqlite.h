// Thin RAII adapter over sqlite3 with errors as values. The only file that
// includes <sqlite3.h> is sqlite.cc.
//
// Not thread-safe: one Db per thread (SQLite connections are cheap).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sentinelle {

struct DbOptions {
  bool wal = true;
  // "FULL" survives power loss at the cost of an fsync per commit; "NORMAL"
  // in WAL mode may lose the last commits on power loss but never corrupts.
  std::string synchronous = "FULL";
  int busy_timeout_ms = 5000;
  bool read_only = false;
  // Page cache limit in KiB (PRAGMA cache_size=-N); 0 keeps SQLite's default
  // (2 MiB per connection).
  int cache_kib = 0;
};

class Stmt;

class Db {
 public:
  static Result<std::unique_ptr<Db>> Open(const std::string& path, const DbOptions& options = {});
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status Exec(std::string_view sql);  // one or more statements, no results
  Result<Stmt> Prepare(std::string_view sql);

  // Runs `migrations[i]` for every i >= the stored user_version, each in its
  // own transaction, and stores the new version. Refuses a database whose
  // version is newer than the code knows.
  Status Migrate(const std::vector<std::string>& migrations);
  int64_t LastInsertRowId() const;
  int Changes() const;
  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// A prepared statement. Bind indexes are 1-based, column indexes 0-based.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  ~Stmt();

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, double value);   // NaN binds NULL
  Stmt& Bind(int index, std::string_view text);
  Stmt& BindBlob(int index, std::string_view bytes);
  Stmt& BindNull(int index);

  // Steps once: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, discarding rows, then resets.
  Status Run();
  void Reset();  // resets and clears bindings

  int64_t ColumnInt(int col) const;
  double ColumnDouble(int col) const;   // NULL reads as NaN
  std::string ColumnText(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class Db;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  bool bind_error_ = false;
  std::string bind_error_message_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Status Commit();
  bool begun() const { return begun_; }
  const Status& begin_status() const { return begin_status_; }

 private:
  Db& db_;
  bool begun_ = false;
  bool done_ = false;
  Status begin_status_;
};

}  // namespace sentinelle
