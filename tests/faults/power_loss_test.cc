// Power loss and crashes at every write point of the agent's SQLite buffer.
//
// A VFS shim wraps SQLite's default VFS and counts every write, truncate and
// fsync. For each N, a forked child opens the store and commits (and
// confirms) readings, telling the parent over a pipe each time a call
// returned success; at the Nth write point the shim stops the child before
// the operation happens:
//   - crash: the process dies (what kill -9 does; the page cache survives);
//   - power loss: every write since the file's last fsync is undone (the page
//     cache is lost; what was fsynced stays), then the process dies.
// The parent then opens the database without the shim and checks: it opens,
// PRAGMA integrity_check is ok, every reading whose Commit returned success
// is there with its window, sequence numbers have no holes, a confirmed
// reading is not unconfirmed again, an unconfirmed one is still in the
// outbox, and the next commit continues the sequence. N grows until the
// child finishes its work without reaching the Nth write point.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "process.h"
#include "sentinelle/agent/store.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::TempDir;

// ---- the shim (used only in forked children) -------------------------------

enum class CutMode { kCrash, kPowerLoss };

struct Undo {
  int64_t offset = 0;
  std::string old_bytes;  // content before the write (only the part that existed)
  int64_t old_size = 0;   // file size before the write or truncate
};

struct ShimState {
  sqlite3_vfs* real = nullptr;
  int64_t ops = 0;
  int64_t cut_at = 0;
  CutMode mode = CutMode::kCrash;
  std::map<std::string, std::vector<Undo>> unsynced;  // by path, oldest first
};
ShimState g_shim;

struct ShimFile {
  sqlite3_file base;
  std::string* path;  // owned
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

[[noreturn]] void PowerCut() {
  if (g_shim.mode == CutMode::kPowerLoss) {
    for (auto& [path, undos] : g_shim.unsynced) {
      const int fd = ::open(path.c_str(), O_WRONLY);
      if (fd < 0) continue;
      for (auto it = undos.rbegin(); it != undos.rend(); ++it) {
        if (!it->old_bytes.empty()) {
          (void)!::pwrite(fd, it->old_bytes.data(), it->old_bytes.size(), it->offset);
        }
        (void)!::ftruncate(fd, it->old_size);
      }
      ::close(fd);
    }
  }
  ::_exit(0);
}

// Counts a write point; cuts before the operation when it is the Nth.
void WritePoint() {
  if (++g_shim.ops == g_shim.cut_at) PowerCut();
}

int64_t RealSize(ShimFile* f) {
  sqlite3_int64 size = 0;
  if (f->real()->pMethods->xFileSize(f->real(), &size) != SQLITE_OK) return 0;
  return size;
}

void RecordUndo(ShimFile* f, int64_t offset, int64_t length) {
  if (f->path == nullptr) return;  // temporary files: never recovered
  Undo u;
  u.offset = offset;
  u.old_size = RealSize(f);
  const int64_t keep = std::max<int64_t>(0, std::min(length, u.old_size - offset));
  if (keep > 0) {
    u.old_bytes.resize(static_cast<size_t>(keep));
    (void)f->real()->pMethods->xRead(f->real(), u.old_bytes.data(), static_cast<int>(keep), offset);
  }
  g_shim.unsynced[*f->path].push_back(std::move(u));
}

ShimFile* Shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }

int ShimClose(sqlite3_file* f) {
  const int rc = Shim(f)->real()->pMethods->xClose(Shim(f)->real());
  delete Shim(f)->path;
  return rc;
}
int ShimRead(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  return Shim(f)->real()->pMethods->xRead(Shim(f)->real(), buf, amt, off);
}
int ShimWrite(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  WritePoint();
  RecordUndo(Shim(f), off, amt);
  return Shim(f)->real()->pMethods->xWrite(Shim(f)->real(), buf, amt, off);
}
int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  WritePoint();
  const int64_t old = RealSize(Shim(f));
  if (size < old) RecordUndo(Shim(f), size, old - size);
  return Shim(f)->real()->pMethods->xTruncate(Shim(f)->real(), size);
}
int ShimSync(sqlite3_file* f, int flags) {
  WritePoint();
  const int rc = Shim(f)->real()->pMethods->xSync(Shim(f)->real(), flags);
  if (rc == SQLITE_OK && Shim(f)->path) g_shim.unsynced.erase(*Shim(f)->path);
  return rc;
}
int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Shim(f)->real()->pMethods->xFileSize(Shim(f)->real(), size);
}
int ShimLock(sqlite3_file* f, int l) { return Shim(f)->real()->pMethods->xLock(Shim(f)->real(), l); }
int ShimUnlock(sqlite3_file* f, int l) { return Shim(f)->real()->pMethods->xUnlock(Shim(f)->real(), l); }
int ShimCheckReserved(sqlite3_file* f, int* out) {
  return Shim(f)->real()->pMethods->xCheckReservedLock(Shim(f)->real(), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  return Shim(f)->real()->pMethods->xFileControl(Shim(f)->real(), op, arg);
}
int ShimSectorSize(sqlite3_file* f) { return Shim(f)->real()->pMethods->xSectorSize(Shim(f)->real()); }
int ShimDeviceCharacteristics(sqlite3_file* f) {
  return Shim(f)->real()->pMethods->xDeviceCharacteristics(Shim(f)->real());
}
int ShimShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return Shim(f)->real()->pMethods->xShmMap(Shim(f)->real(), page, size, extend, out);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Shim(f)->real()->pMethods->xShmLock(Shim(f)->real(), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) { Shim(f)->real()->pMethods->xShmBarrier(Shim(f)->real()); }
int ShimShmUnmap(sqlite3_file* f, int del) {
  return Shim(f)->real()->pMethods->xShmUnmap(Shim(f)->real(), del);
}

const sqlite3_io_methods kShimMethods = {
    2,  // no xFetch/xUnfetch: memory-mapped I/O would bypass the shim
    ShimClose,      ShimRead,        ShimWrite,   ShimTruncate,         ShimSync,
    ShimFileSize,   ShimLock,        ShimUnlock,  ShimCheckReserved,    ShimFileControl,
    ShimSectorSize, ShimDeviceCharacteristics,    ShimShmMap,           ShimShmLock,
    ShimShmBarrier, ShimShmUnmap,    nullptr,     nullptr};

int ShimOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  ShimFile* f = Shim(file);
  f->base.pMethods = nullptr;
  const int rc = g_shim.real->xOpen(g_shim.real, name, f->real(), flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  f->path = name ? new std::string(name) : nullptr;
  f->base.pMethods = &kShimMethods;
  (void)vfs;
  return SQLITE_OK;
}
int ShimDelete(sqlite3_vfs*, const char* name, int sync_dir) {
  WritePoint();
  g_shim.unsynced.erase(name);
  return g_shim.real->xDelete(g_shim.real, name, sync_dir);
}

sqlite3_vfs g_vfs;

void InstallShim(int64_t cut_at, CutMode mode) {
  g_shim.real = sqlite3_vfs_find(nullptr);
  g_shim.cut_at = cut_at;
  g_shim.mode = mode;
  g_vfs = *g_shim.real;
  g_vfs.iVersion = 1;  // no xSetSystemCall & co.
  g_vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + g_shim.real->szOsFile;
  g_vfs.zName = "powercut";
  g_vfs.pAppData = nullptr;
  g_vfs.xOpen = ShimOpen;
  g_vfs.xDelete = ShimDelete;
  g_vfs.xAccess = [](sqlite3_vfs*, const char* n, int f, int* o) {
    return g_shim.real->xAccess(g_shim.real, n, f, o);
  };
  g_vfs.xFullPathname = [](sqlite3_vfs*, const char* n, int size, char* out) {
    return g_shim.real->xFullPathname(g_shim.real, n, size, out);
  };
  g_vfs.xDlOpen = nullptr;
  g_vfs.xDlError = nullptr;
  g_vfs.xDlSym = nullptr;
  g_vfs.xDlClose = nullptr;
  g_vfs.xRandomness = [](sqlite3_vfs*, int n, char* out) {
    return g_shim.real->xRandomness(g_shim.real, n, out);
  };
  g_vfs.xSleep = [](sqlite3_vfs*, int us) { return g_shim.real->xSleep(g_shim.real, us); };
  g_vfs.xCurrentTime = [](sqlite3_vfs*, double* t) {
    return g_shim.real->xCurrentTime(g_shim.real, t);
  };
  g_vfs.xGetLastError = [](sqlite3_vfs*, int n, char* out) {
    return g_shim.real->xGetLastError(g_shim.real, n, out);
  };
  if (sqlite3_vfs_register(&g_vfs, /*makeDflt=*/1) != SQLITE_OK) ::_exit(90);
}

// ---- the workload and its checks -------------------------------------------

constexpr int64_t kEnd0 = 1767225900;  // 2026-01-01T00:05:00Z
constexpr int kBaseReadings = 3;      // committed before any cut
constexpr int kWorkReadings = 5;      // committed (and partly confirmed) under the cut

Reading MakeReading(int i) {
  Reading r;
  r.station_id = "st-1";
  r.window_end_s = kEnd0 + 300 * i;
  r.boot_id = "boot-a";
  r.time = {true, "ntp"};
  r.values[static_cast<int>(Variable::kPm25)] = 10.0 + i;
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  r.samples[static_cast<int>(Variable::kPm25)] = 30;
  return r;
}

StoreConfig Config(const std::string& path) {
  StoreConfig c;
  c.path = path;  // WAL + synchronous=FULL: the station's settings
  return c;
}

// What the child reports: 'C' seq = Commit returned ok; 'A' seq = about to
// confirm; 'K' seq = Confirm returned ok; 'D' = finished without a cut.
void Report(int fd, char what, int64_t seq) {
  char msg[16];
  msg[0] = what;
  std::memcpy(msg + 1, &seq, sizeof(seq));
  (void)!::write(fd, msg, 1 + sizeof(seq));
}

[[noreturn]] void Child(const std::string& path, int64_t cut_at, CutMode mode, int fd) {
  InstallShim(cut_at, mode);
  {
    auto store = Store::Open(Config(path), "st-1", "boot-b");
    if (!store) ::_exit(91);
    for (int i = kBaseReadings; i < kBaseReadings + kWorkReadings; ++i) {
      Reading r = MakeReading(i);
      if (!(*store)->Commit(r)) ::_exit(92);
      Report(fd, 'C', r.seq);
      if (i % 2 == 0) {  // the collector acks every other reading
        Report(fd, 'A', r.seq - 1);
        if (!(*store)->Confirm({{r.seq - 1, r.seq - 1}})) ::_exit(93);
        Report(fd, 'K', r.seq - 1);
      }
    }
  }  // closing checkpoints the WAL: more write points
  Report(fd, 'D', 0);
  ::_exit(0);
}

struct Outcome {
  bool done = false;  // the child finished without reaching the cut
  std::set<int64_t> committed, confirm_attempted, confirmed;
};

Outcome RunChild(const std::string& path, int64_t cut_at, CutMode mode) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    Child(path, cut_at, mode, fds[1]);
  }
  ::close(fds[1]);
  Outcome out;
  char msg[16];
  while (::read(fds[0], msg, 1 + sizeof(int64_t)) == static_cast<ssize_t>(1 + sizeof(int64_t))) {
    int64_t seq;
    std::memcpy(&seq, msg + 1, sizeof(seq));
    if (msg[0] == 'C') out.committed.insert(seq);
    if (msg[0] == 'A') out.confirm_attempted.insert(seq);
    if (msg[0] == 'K') out.confirmed.insert(seq);
    if (msg[0] == 'D') out.done = true;
  }
  ::close(fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "cut at " << cut_at << ": child failed with status " << status
      << " (91 open, 92 commit, 93 confirm)";
  return out;
}

void CheckRecovered(const std::string& path, const Outcome& o, const std::string& where) {
  SCOPED_TRACE(where);
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db) << db.message();
    auto st = (*db)->Prepare("PRAGMA integrity_check");
    ASSERT_TRUE(st) << st.message();
    auto row = st->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(st->ColumnText(0), "ok");
  }
  auto store = Store::Open(Config(path), "st-1", "boot-c");
  ASSERT_TRUE(store) << store.message();
  Store& s = **store;
  const int64_t last = s.last_seq();
  EXPECT_GE(last, kBaseReadings);
  if (!o.committed.empty()) {
    EXPECT_GE(last, *o.committed.rbegin());
  }
  auto all = s.Range(1, last, 1000);
  ASSERT_TRUE(all) << all.message();
  ASSERT_EQ(static_cast<int64_t>(all->size()), last) << "a hole in the sequence";
  for (int64_t i = 0; i < last; ++i) {
    EXPECT_EQ((*all)[i].seq, i + 1);
    EXPECT_EQ((*all)[i].window_end_s, kEnd0 + 300 * i);
  }
  auto unconfirmed = s.Unconfirmed(0, 1000);
  ASSERT_TRUE(unconfirmed);
  std::set<int64_t> outbox;
  for (const auto& r : *unconfirmed) outbox.insert(r.seq);
  for (int64_t seq = 1; seq <= last; ++seq) {
    if (o.confirmed.count(seq)) {
      EXPECT_EQ(outbox.count(seq), 0u) << "seq " << seq << " was confirmed, is unconfirmed again";
    } else if (!o.confirm_attempted.count(seq)) {
      EXPECT_EQ(outbox.count(seq), 1u) << "seq " << seq << " left the outbox unconfirmed";
    }
  }
  Reading next = MakeReading(static_cast<int>(last));
  ASSERT_TRUE(s.Commit(next));
  EXPECT_EQ(next.seq, last + 1);
}

void RunEveryCut(CutMode mode) {
  TempDir dir;
  const std::string base = dir.File("base.db");
  {
    auto store = Store::Open(Config(base), "st-1", "boot-a");
    ASSERT_TRUE(store) << store.message();
    for (int i = 0; i < kBaseReadings; ++i) {
      Reading r = MakeReading(i);
      ASSERT_TRUE((*store)->Commit(r));
    }
  }  // closed cleanly: no WAL left
  ASSERT_FALSE(std::filesystem::exists(base + "-wal"));
  int64_t cut = 1;
  for (; cut < 10000; ++cut) {
    const std::string path = dir.File("run-" + std::to_string(cut) + ".db");
    std::filesystem::copy_file(base, path);
    const Outcome o = RunChild(path, cut, mode);
    CheckRecovered(path, o, "cut at write point " + std::to_string(cut));
    if (::testing::Test::HasFailure()) return;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    if (o.done) break;
  }
  // The workload has dozens of write points (open, 5 commits, confirms,
  // checkpoint on close); fewer would mean the shim saw nothing.
  EXPECT_GT(cut, 20);
  ::testing::Test::RecordProperty("write_points", static_cast<int>(cut - 1));
}

TEST(PowerLossTest, CrashAtEveryWritePointLosesNoCommittedReading) {
  RunEveryCut(CutMode::kCrash);
}

TEST(PowerLossTest, PowerLossAtEveryWritePointLosesNoCommittedReading) {
  RunEveryCut(CutMode::kPowerLoss);
}

}  // namespace
}  // namespace sentinelle::agent
