#include "sentinelle/config.h"

#include <gtest/gtest.h>

namespace sentinelle {
namespace {

TEST(ConfigTest, ReadsNestedKeysWithDefaults) {
  auto r = ConfigReader::FromString(R"({"mqtt": {"host": "127.0.0.1", "port": 1883},
                                        // comments are allowed
                                        "targets": ["pm25", "o3"]})");
  EXPECT_EQ(r.Require<std::string>("mqtt.host"), "127.0.0.1");
  EXPECT_EQ(r.Get<int>("mqtt.port", 1), 1883);
  EXPECT_EQ(r.Get<int>("mqtt.keepalive_s", 30), 30);
  EXPECT_EQ(r.Get<std::vector<std::string>>("targets", {}).size(), 2u);
  EXPECT_NO_THROW(r.RejectUnknown());
}

TEST(ConfigTest, ErrorsNameTheKey) {
  auto r = ConfigReader::FromString(R"({"mqtt": {"port": "1883"}})", "agent.json");
  try {
    r.Get<int>("mqtt.port", 1);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("agent.json: key 'mqtt.port' must be an integer"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(r.Require<std::string>("station.id"), ConfigError);
}

TEST(ConfigTest, UnknownKeysAreRejected) {
  auto r = ConfigReader::FromString(R"({"mqtt": {"host": "h", "prot": 1}})");
  r.Get<std::string>("mqtt.host", "");
  try {
    r.RejectUnknown();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'mqtt.prot'"), std::string::npos) << e.what();
  }
}

TEST(ConfigTest, InvalidJsonAndMissingFile) {
  EXPECT_THROW(ConfigReader::FromString("{\"a\": }"), ConfigError);
  EXPECT_THROW(ConfigReader::FromString("[1,2]"), ConfigError);
  EXPECT_THROW(ConfigReader::FromFile("/nonexistent/agent.json"), ConfigError);
}

TEST(ConfigTest, NumberTooLargeForADoubleIsAConfigError) {
  // nlohmann reports this as out_of_range, not parse_error (found by fuzzing).
  try {
    ConfigReader::FromString(R"({"mqtt": {"port": 777e777777777}})", "agent.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("agent.json: invalid JSON"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("777e777777777"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sentinelle
