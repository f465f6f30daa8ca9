// Every committed fuzz input, replayed through its harness (fuzz/harness):
// each one must be handled without a crash, a sanitizer report or a broken
// contract check. A harness's checks abort, so a failure ends this binary
// with the harness's message naming the check.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace sentinelle::fuzz {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(FuzzCorpusTest, EveryTargetHasSeedsAndEveryCorpusAHarness) {
  const fs::path root = SENTINELLE_FUZZ_CORPUS;
  for (const Entry* e = begin(); e != end(); ++e) {
    const fs::path dir = root / e->name;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    EXPECT_GE(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2) << dir;
  }
  for (const auto& d : fs::directory_iterator(root)) {
    EXPECT_NE(Find(d.path().filename().string()), nullptr) << "corpus without a harness: " << d.path();
  }
}

class CorpusReplay : public ::testing::TestWithParam<Entry> {};

TEST_P(CorpusReplay, EveryInputIsHandled) {
  const fs::path dir = fs::path(SENTINELLE_FUZZ_CORPUS) / GetParam().name;
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.is_regular_file()) files.push_back(f.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    GetParam().harness(Slurp(f));  // aborts with the failed check's text
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, CorpusReplay, ::testing::ValuesIn(begin(), end()),
                         [](const ::testing::TestParamInfo<Entry>& param) {
                           return std::string(param.param.name);
                         });

}  // namespace
}  // namespace sentinelle::fuzz
