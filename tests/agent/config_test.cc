// Agent configuration: the example file parses, unknown keys are refused, the
// opaque prediction sub-object passes through untouched.
#include "sentinelle/agent/config.h"

#include <gtest/gtest.h>

#include "sentinelle/config.h"

namespace sentinelle::agent {
namespace {

using nlohmann::json;

TEST(AgentConfigTest, ExampleConfigParses) {
  const AgentConfig c =
      LoadAgentConfig(std::string(SENTINELLE_SOURCE_DIR) + "/configs/agent.example.json");
  EXPECT_FALSE(c.station_id.empty());
  EXPECT_EQ(c.aggregation.interval_s, 300);
  EXPECT_EQ(c.store.db.synchronous, "FULL");
  EXPECT_TRUE(c.store.db.wal);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9101");
  EXPECT_TRUE(c.prediction.is_object());
}

TEST(AgentConfigTest, DefaultsAndClientId) {
  const AgentConfig c = ParseAgentConfig(json{{"station_id", "abj-plateau"}});
  EXPECT_EQ(c.mqtt.client_id, "sentinelle-agent-abj-plateau");
  EXPECT_EQ(c.clock.source, ClockSource::kSystem);
  EXPECT_EQ(c.input.kind, InputKind::kStdin);
  EXPECT_EQ(c.topic_prefix, "sentinelle/v1");
}

TEST(AgentConfigTest, UnknownKeysAndBadValuesAreRefused) {
  EXPECT_THROW(ParseAgentConfig(json{{"station_id", "a"}, {"mqtt", {{"urii", "x"}}}}), ConfigError);
  EXPECT_THROW(ParseAgentConfig(json{{"station_id", "A B"}}), ConfigError);
  EXPECT_THROW(ParseAgentConfig(json::object()), ConfigError);
  EXPECT_THROW(ParseAgentConfig(json{{"station_id", "a"}, {"clock", {{"source", "gps"}}}}),
               ConfigError);
  EXPECT_THROW(ParseAgentConfig(json{{"station_id", "a"}, {"store", {{"synchronous", "OFF"}}}}),
               ConfigError);
  EXPECT_THROW(
      ParseAgentConfig(json{{"station_id", "a"}, {"mqtt", {{"batch_max_readings", 5000}}}}),
      ConfigError);
  EXPECT_THROW(ParseAgentConfig(json{{"station_id", "a"}, {"input", {{"kind", "unix"}}}}),
               ConfigError);
  try {
    ParseAgentConfig(json{{"station_id", "a"}, {"mqtt", {{"urii", "x"}}}});
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("mqtt.urii"), std::string::npos);
  }
}

// Parses {"station_id":"a","mqtt":mqtt}; returns the ConfigError text ("" if none).
std::string MqttError(const json& mqtt) {
  try {
    ParseAgentConfig(json{{"station_id", "a"}, {"mqtt", mqtt}});
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

TEST(AgentConfigTest, TlsNeedsTheCaAndNothingInsecure) {
  // A TLS URI with its CA parses, for both schemes paho accepts.
  for (const std::string uri : {"ssl://broker:8883", "mqtts://broker:8883"}) {
    const AgentConfig c = ParseAgentConfig(
        json{{"station_id", "a"}, {"mqtt", {{"uri", uri}, {"ca_file", "/etc/ca.crt"}}}});
    EXPECT_TRUE(IsTlsMqttUri(c.mqtt.uri));
    EXPECT_EQ(c.mqtt.ca_file, "/etc/ca.crt");
  }
  EXPECT_FALSE(IsTlsMqttUri("tcp://broker:1883"));
  EXPECT_NE(MqttError({{"uri", "ssl://broker:8883"}}).find("mqtt.ca_file"), std::string::npos);
  EXPECT_NE(MqttError({{"uri", "tcp://broker:1883"}, {"ca_file", "/etc/ca.crt"}}).find("mqtt.ca_file"),
            std::string::npos);
  EXPECT_NE(MqttError({{"uri", "http://broker"}}).find("mqtt.uri"), std::string::npos);
  EXPECT_NE(MqttError({{"uri", "ssl://b:8883"}, {"ca_file", "ca"}, {"cert_file", "c"}})
                .find("mqtt.key_file"),
            std::string::npos);
  EXPECT_NE(MqttError({{"uri", "ssl://b:8883"}, {"ca_file", "ca"}, {"key_file", "k"}})
                .find("mqtt.cert_file"),
            std::string::npos);
  EXPECT_EQ(MqttError({{"uri", "ssl://b:8883"}, {"ca_file", "ca"}, {"cert_file", "c"}, {"key_file", "k"}}),
            "");
  // There is no switch to skip certificate checks.
  EXPECT_NE(MqttError({{"uri", "ssl://b:8883"}, {"ca_file", "ca"}, {"tls_insecure", true}})
                .find("mqtt.tls_insecure"),
            std::string::npos);
}

TEST(AgentConfigTest, AckTimeoutBackoffRange) {
  const AgentConfig d = ParseAgentConfig(json{{"station_id", "a"}});
  EXPECT_EQ(d.mqtt.ack_timeout_ms, 60000);
  EXPECT_EQ(d.mqtt.ack_timeout_max_ms, 600000);
  EXPECT_NE(MqttError({{"ack_timeout_ms", 5000}, {"ack_timeout_max_ms", 1000}})
                .find("mqtt.ack_timeout_max_ms"),
            std::string::npos);
}

TEST(AgentConfigTest, PredictionSubObjectIsOpaque) {
  const json pred = {{"models_dir", "/var/lib/x"}, {"anything", {{"nested", 1}}}};
  const AgentConfig c = ParseAgentConfig(json{{"station_id", "a"}, {"prediction", pred}});
  EXPECT_EQ(c.prediction, pred);
}

}  // namespace
}  // namespace sentinelle::agent
