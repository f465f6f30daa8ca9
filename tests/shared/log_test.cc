#include "sentinelle/log.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fcntl.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "process.h"

namespace sentinelle {
namespace {

TEST(LogTest, JsonLinesEscapeTheMessage) {
  testing::TempDir dir;
  const std::string path = dir.File("log.txt");
  const int saved = dup(STDERR_FILENO);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fd, STDERR_FILENO);
  SetupLogging({"info", true, "logtest"});
  spdlog::info("station \"abj\" said\nhello\\ \x01");
  spdlog::debug("not shown");
  spdlog::default_logger()->flush();
  dup2(saved, STDERR_FILENO);
  close(fd);
  close(saved);
  SetupLogging({"info", false, "sentinelle"});

  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_EQ(j["level"], "info");
    EXPECT_EQ(j["logger"], "logtest");
    EXPECT_EQ(j["msg"], "station \"abj\" said\nhello\\ \x01");
  }
  EXPECT_EQ(lines, 1);
}

TEST(LogTest, UnknownLevelIsAnError) {
  EXPECT_THROW(SetupLogging({"loud", false, "x"}), std::invalid_argument);
}

}  // namespace
}  // namespace sentinelle
