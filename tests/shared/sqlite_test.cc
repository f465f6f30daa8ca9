#include "sentinelle/sqlite.h"

#include <gtest/gtest.h>

#include <cmath>

#include "process.h"

namespace sentinelle {
namespace {

TEST(SqliteTest, MigratesOnceAndRefusesNewerSchema) {
  testing::TempDir dir;
  const std::string path = dir.File("t.db");
  const std::vector<std::string> v1 = {"CREATE TABLE a(x INTEGER);"};
  const std::vector<std::string> v2 = {v1[0], "ALTER TABLE a ADD COLUMN y REAL;"};
  {
    auto db = Db::Open(path);
    ASSERT_TRUE(db) << db.message();
    ASSERT_TRUE((*db)->Migrate(v1));
    ASSERT_TRUE((*db)->Migrate(v1));  // idempotent
    ASSERT_TRUE((*db)->Migrate(v2));
    auto ins = (*db)->Prepare("INSERT INTO a(x, y) VALUES (?, ?)");
    ASSERT_TRUE(ins);
    ASSERT_TRUE(ins->Bind(1, int64_t{7}).Bind(2, NAN).Run());
  }
  auto db = Db::Open(path);
  ASSERT_TRUE(db);
  auto st = (*db)->Migrate(v1);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("newer"), std::string::npos);
  auto q = (*db)->Prepare("SELECT x, y FROM a");
  ASSERT_TRUE(q);
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnInt(0), 7);
  EXPECT_TRUE(std::isnan(q->ColumnDouble(1)));
}

TEST(SqliteTest, TransactionRollsBackUnlessCommitted) {
  testing::TempDir dir;
  auto db = Db::Open(dir.File("t.db"));
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->Exec("CREATE TABLE a(x INTEGER PRIMARY KEY)"));
  {
    Transaction tx(**db);
    ASSERT_TRUE((*db)->Exec("INSERT INTO a VALUES (1)"));
  }
  {
    Transaction tx(**db);
    ASSERT_TRUE((*db)->Exec("INSERT INTO a VALUES (2)"));
    ASSERT_TRUE(tx.Commit());
  }
  auto q = (*db)->Prepare("SELECT group_concat(x) FROM a");
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnText(0), "2");
  EXPECT_FALSE((*db)->Exec("INSERT INTO a VALUES (2)"));  // constraint error is a value
}

TEST(SqliteTest, OpenErrorsAreValues) {
  auto db = Db::Open("/nonexistent-dir/x.db");
  ASSERT_FALSE(db);
  EXPECT_NE(db.message().find("open"), std::string::npos);
  testing::TempDir dir;
  DbOptions bad;
  bad.synchronous = "SOMETIMES";
  EXPECT_FALSE(Db::Open(dir.File("x.db"), bad));
}

}  // namespace
}  // namespace sentinelle
