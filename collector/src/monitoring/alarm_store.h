// Alarms in the collector's SQLite file (table monitor_alarms). The
// monitor's schema has its own version (table monitor_meta) so it migrates
// independently of the history store's PRAGMA user_version.
//
// Not thread-safe: the monitor serialises calls.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sentinelle/monitor/alarm.h"
#include "sentinelle/result.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::collector {

class AlarmStore {
 public:
  // read_only: opens without creating or migrating; a database without the
  // table reads as empty, one of an older schema reads with defaults for
  // the newer columns. Errors: cannot open, migration failed.
  static Result<std::unique_ptr<AlarmStore>> Open(const std::string& path, bool read_only);

  // Inserts or updates (by id) in one transaction.
  Status Upsert(const std::vector<monitor::Alarm>& alarms);
  // Open alarms and the `closed_limit` most recent closed ones.
  Result<std::vector<monitor::Alarm>> LoadForRestore(int64_t closed_limit);
  // Alarms about a station (subject, or a network alarm that involves it),
  // or all when station is empty; active: only open (true) / only ended
  // (false); ended_since_s: closed alarms that ended before are left out.
  // Newest first, at most limit.
  Result<std::vector<monitor::Alarm>> Query(const std::optional<std::string>& station,
                                            std::optional<bool> active, int64_t ended_since_s,
                                            int64_t limit);

 private:
  AlarmStore(std::unique_ptr<Db> db, bool has_table, const char* columns)
      : db_(std::move(db)), has_table_(has_table), columns_(columns) {}
  std::unique_ptr<Db> db_;
  bool has_table_;
  const char* columns_;  // the SELECT list for the store's schema version
};

}  // namespace sentinelle::collector
