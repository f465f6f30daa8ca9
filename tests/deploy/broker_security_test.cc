// The committed broker security setup (configs/mosquitto/mosquitto.conf +
// acl, TLS from scripts/make-dev-certs.sh, per-account passwords from
// scripts/mosquitto-add-station.sh) against a real Mosquitto.
//
// Assertions are on what is actually delivered. "Never delivered" is decided
// without sleeping: once the broker has answered the forbidden publish, an
// allowed marker follows, and the observer must see the marker and nothing
// forbidden. Mosquitto handles publishes one at a time and queues each
// subscriber's messages in order, so a forbidden message that had been let
// through would be delivered before the marker.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "mqtt_probe.h"
#include "secure_broker.h"
#include "sentinelle/topics.h"

namespace sentinelle::testing {
namespace {

constexpr int kNotAuthorized = 0x87;
constexpr int kV3NotAuthorised = 5;

class BrokerSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new SecureBroker({"st-a", "st-b", "svc.collector", "sub.public"});
    ASSERT_TRUE(broker_->Start()) << broker_->Log();
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(broker_ && broker_->Running()); }
  void TearDown() override {
    if (HasFailure()) ADD_FAILURE() << "broker log:\n" << broker_->Log();
  }

  static ProbeOptions As(const std::string& account) {
    ProbeOptions o;
    o.port = broker_->tls_port();
    o.ca_file = broker_->ca_file();
    o.username = account;
    o.password = broker_->Password(account);
    return o;
  }

  // A connection as `account` (TLS unless options say otherwise) holding
  // these subscriptions; the test fails if the broker refuses any of them.
  std::unique_ptr<Probe> Open(const std::string& account, const std::vector<std::string>& filters,
                              ProbeOptions options = {}) {
    if (options.port == 0) options = As(account);
    auto p = std::make_unique<Probe>(options, scratch_.path());
    const Outcome o = p->Connect();
    EXPECT_TRUE(o.ok) << account << ":\n" << o.output;
    for (const auto& f : filters) EXPECT_EQ(p->Subscribe(f), 1) << account << " " << f;
    return p;
  }

  static void ExpectAllowed(Probe& p, const std::string& topic, const std::string& payload,
                            bool retained = false) {
    const Outcome o = p.Publish(topic, payload, retained);
    EXPECT_TRUE(o.ok) << topic << ": PUBACK " << o.puback;
  }
  static void ExpectDenied(Probe& p, const std::string& topic, const std::string& payload = "forged",
                           bool retained = false) {
    const Outcome o = p.Publish(topic, payload, retained);
    EXPECT_FALSE(o.ok) << topic << " was accepted";
    EXPECT_EQ(o.puback, kNotAuthorized) << topic;
  }

  static SecureBroker* broker_;
  const Topics topics_;
  TempDir scratch_;
};

SecureBroker* BrokerSecurityTest::broker_ = nullptr;

TEST_F(BrokerSecurityTest, ListensOnlyWhereConfigured) {
  auto sockets = ListeningSockets(broker_->pid());
  std::sort(sockets.begin(), sockets.end());
  std::vector<std::string> expected{"127.0.0.1:" + std::to_string(broker_->tls_port()),
                                    "127.0.0.1:" + std::to_string(broker_->plain_port())};
  std::sort(expected.begin(), expected.end());
  // In particular no default listener on 0.0.0.0:1883, which a listener
  // option placed before the first `listener` line would create.
  EXPECT_EQ(sockets, expected);
}

TEST_F(BrokerSecurityTest, StationCannotPublishAsAnotherStation) {
  auto collector = Open("svc.collector", {topics_.AllStations(StationChannel::kReadings),
                                          topics_.AllStations(StationChannel::kPredictions),
                                          topics_.AllStations(StationChannel::kStatus)});
  // B listens on its own inbound topics: a forged command or ack must not reach it.
  auto b = Open("st-b", {topics_.Commands("st-b"), topics_.Ack("st-b")});
  auto a = Open("st-a", {});

  ExpectDenied(*a, topics_.Readings("st-b"));
  ExpectDenied(*a, topics_.Predictions("st-b"));
  ExpectDenied(*a, topics_.Status("st-b"), "forged-status", true);
  ExpectDenied(*a, topics_.Ack("st-b"));
  ExpectDenied(*a, topics_.Commands("st-b"));

  ExpectAllowed(*a, topics_.Readings("st-a"), "marker-a");
  ExpectAllowed(*collector, topics_.Commands("st-b"), "marker-cmd");
  ASSERT_TRUE(collector->WaitForMessage(topics_.Readings("st-a"), "marker-a"));
  ASSERT_TRUE(b->WaitForMessage(topics_.Commands("st-b"), "marker-cmd"));
  EXPECT_EQ(collector->Messages().size(), 1u) << collector->Output();
  EXPECT_EQ(b->Messages().size(), 1u) << b->Output();

  // The forged status was not retained either.
  ExpectAllowed(*a, topics_.Status("st-a"), "marker-status", true);
  collector.reset();
  auto late = Open("svc.collector", {topics_.Status("st-b"), topics_.Status("st-a")});
  ASSERT_TRUE(late->WaitForMessage(topics_.Status("st-a"), "marker-status"));
  EXPECT_TRUE(late->MessagesOn(topics_.Status("st-b")).empty()) << late->Output();
}

TEST_F(BrokerSecurityTest, StationCannotPublishManifestsOrCommands) {
  auto collector = Open("svc.collector", {});
  auto b = Open("st-b", {topics_.AllManifests()});
  auto a = Open("st-a", {topics_.Commands("st-a")});
  const std::string manifest = topics_.Manifest("pm25", 60);
  ExpectDenied(*a, manifest, "evil-manifest", true);
  ExpectDenied(*a, topics_.Manifest("no2", 180), "evil-manifest", true);
  // Not even to itself: commands come from the collector only.
  ExpectDenied(*a, topics_.Commands("st-a"), "self-command");

  ExpectAllowed(*collector, manifest, "good-manifest", true);
  ExpectAllowed(*collector, topics_.Commands("st-a"), "marker-cmd");
  ASSERT_TRUE(b->WaitForMessage(manifest, "good-manifest"));
  ASSERT_TRUE(a->WaitForMessage(topics_.Commands("st-a"), "marker-cmd"));
  EXPECT_EQ(b->Messages().size(), 1u) << b->Output();
  EXPECT_EQ(a->Messages().size(), 1u) << a->Output();

  // What stays retained is the collector's manifest, and only it.
  b.reset();
  auto late = Open("st-b", {topics_.AllManifests()});
  ASSERT_TRUE(late->WaitForMessage(manifest, "good-manifest"));
  const auto retained = late->Messages();
  ASSERT_EQ(retained.size(), 1u) << late->Output();
  EXPECT_TRUE(retained[0].retained);
}

TEST_F(BrokerSecurityTest, StationCannotReadAnotherStationsTopics) {
  auto collector = Open("svc.collector", {});
  auto b = Open("st-b", {});
  auto a = Open("st-a", {});
  // Mosquitto grants a subscription (even an exact one to another station's
  // topic) and checks each message on delivery; what counts is that nothing
  // of B's ever arrives.
  for (const std::string& filter :
       {topics_.Commands("st-b"), topics_.Ack("st-b"), topics_.Readings("st-b"),
        topics_.Status("st-b"), topics_.AllStations(StationChannel::kCommands), std::string("#"),
        "$share/g/" + topics_.Commands("st-b"), topics_.Commands("st-a")}) {
    const int code = a->Subscribe(filter);
    EXPECT_TRUE(code == 1 || code == kNotAuthorized) << filter << ": " << code;
  }
  ExpectAllowed(*collector, topics_.Commands("st-b"), "command-for-b");
  ExpectAllowed(*collector, topics_.Ack("st-b"), "ack-for-b");
  ExpectAllowed(*b, topics_.Readings("st-b"), "reading-of-b");
  ExpectAllowed(*b, topics_.Status("st-b"), "status-of-b", true);
  ExpectAllowed(*collector, topics_.Commands("st-a"), "marker-a");
  ASSERT_TRUE(a->WaitForMessage(topics_.Commands("st-a"), "marker-a"));
  for (const auto& m : a->Messages()) {
    const auto parsed = topics_.ParseStation(m.topic);
    // Manifests are for every station; anything else must be A's own.
    if (!parsed) {
      EXPECT_EQ(m.topic.rfind(topics_.prefix() + "/models/", 0), 0u) << m.topic;
      continue;
    }
    EXPECT_EQ(parsed->station_id, "st-a") << "A read " << m.topic << " " << m.payload;
  }
}

TEST_F(BrokerSecurityTest, OnlyTheCollectorAnnouncesRolloutsAndAStationReadsItsOwn) {
  // Staged rollouts (shadow, canary) have their own retained topic per scope
  // next to production (docs/PROTOCOL.md, "Topics per scope").
  auto topic = [&](const std::string& kind, const std::string& station, bool rollout) {
    return topics_.ScopedManifest("pm25", 60, kind, station, rollout);
  };
  const std::string network = topic("network", "", true);
  const std::string linear = topic("linear", "", true);
  const std::string mine = topic("station", "st-a", true);
  const std::string theirs = topic("station", "st-b", true);
  const std::string production = topic("network", "", false);
  EXPECT_EQ(network, topics_.prefix() + "/models/pm25/60/rollout/manifest");
  EXPECT_EQ(mine, topics_.prefix() + "/models/pm25/60/stations/st-a/rollout/manifest");
  auto collector = Open("svc.collector", {});
  auto a = Open("st-a", topics_.StationManifestFilters("st-a"));
  for (const std::string& t : {network, linear, mine, theirs}) ExpectDenied(*a, t, "evil-rollout", true);
  ExpectAllowed(*collector, production, "production-1", true);
  ExpectAllowed(*collector, network, "shadow-1", true);
  ExpectAllowed(*collector, linear, "linear-shadow-1", true);
  ExpectAllowed(*collector, theirs, "canary-for-b", true);
  ExpectAllowed(*collector, mine, "canary-for-a", true);
  ASSERT_TRUE(a->WaitForMessage(mine, "canary-for-a"));
  ASSERT_TRUE(a->WaitForMessage(network, "shadow-1"));
  ASSERT_TRUE(a->WaitForMessage(linear, "linear-shadow-1"));
  for (const auto& m : a->Messages()) {
    EXPECT_NE(m.topic, theirs) << "A read B's rollout: " << m.payload;
    EXPECT_NE(m.payload.rfind("evil", 0), 0u) << m.topic;
  }
  // A station connecting during the rollout gets production AND the rollout:
  // the staged announcement did not replace the production one.
  a.reset();
  auto late = Open("st-a", topics_.StationManifestFilters("st-a"));
  ASSERT_TRUE(late->WaitForMessage(production, "production-1"));
  ASSERT_TRUE(late->WaitForMessage(network, "shadow-1"));
  ASSERT_TRUE(late->WaitForMessage(mine, "canary-for-a"));
  // Public consumers read no rollout either.
  auto sub = Open("sub.public", {topics_.Readings("st-a")});
  const int code = sub->Subscribe(network);
  EXPECT_TRUE(code == 1 || code == kNotAuthorized) << code;
  ExpectAllowed(*late, topics_.Readings("st-a"), "marker-rollout");
  ASSERT_TRUE(sub->WaitForMessage(topics_.Readings("st-a"), "marker-rollout"));
  for (const auto& m : sub->Messages()) EXPECT_EQ(m.topic, topics_.Readings("st-a")) << m.topic;
  for (const std::string& t : {production, network, linear, mine, theirs}) {
    ExpectAllowed(*collector, t, "", true);
  }
}

TEST_F(BrokerSecurityTest, StationReadsItsLinearAndStationManifestsOnly) {
  // The topics the trainer publishes (docs/PROTOCOL.md, "Topics per scope")
  // and the filters the agent's updater subscribes with.
  const std::string p = topics_.prefix() + "/models/";
  const std::string linear = p + "pm25/60/linear/manifest";
  const std::string mine = p + "pm25/60/stations/st-a/manifest";
  const std::string theirs = p + "pm25/60/stations/st-b/manifest";
  auto collector = Open("svc.collector", {p + "+/+/stations/+/manifest"});
  auto a = Open("st-a", {p + "+/+/manifest", p + "+/+/linear/manifest",
                         p + "+/+/stations/st-a/manifest"});
  // Even a filter reaching for every station's manifests delivers only A's.
  const int code = a->Subscribe(p + "+/+/stations/+/manifest");
  EXPECT_TRUE(code == 1 || code == kNotAuthorized) << code;

  // Stations cannot announce models on any scope, not even their own.
  ExpectDenied(*a, linear, "evil-linear", true);
  ExpectDenied(*a, mine, "evil-own", true);
  ExpectDenied(*a, theirs, "evil-theirs", true);

  ExpectAllowed(*collector, theirs, "for-b", true);
  ExpectAllowed(*collector, linear, "linear-1", true);
  ExpectAllowed(*collector, mine, "for-a", true);
  ASSERT_TRUE(a->WaitForMessage(linear, "linear-1"));
  ASSERT_TRUE(a->WaitForMessage(mine, "for-a"));
  // The collector reads back its station-scope manifests.
  EXPECT_TRUE(collector->WaitForMessage(theirs, "for-b"));
  for (const auto& m : a->Messages()) {
    EXPECT_NE(m.topic, theirs) << "A read B's station manifest: " << m.payload;
    EXPECT_NE(m.payload.rfind("evil", 0), 0u) << m.topic;
  }

  // Retained: a station connecting later gets its own and the linear one
  // (this connection replaces `a`: one session per account).
  a.reset();
  auto late = Open("st-a", {p + "+/+/linear/manifest", p + "+/+/stations/st-a/manifest"});
  ASSERT_TRUE(late->WaitForMessage(linear, "linear-1"));
  ASSERT_TRUE(late->WaitForMessage(mine, "for-a"));
  auto late_b = Open("st-b", {p + "+/+/stations/st-b/manifest"});
  ASSERT_TRUE(late_b->WaitForMessage(theirs, "for-b"));
  EXPECT_EQ(late_b->Messages().size(), 1u) << late_b->Output();
  // Public consumers read no manifest of any scope.
  auto sub = Open("sub.public", {topics_.Readings("st-a")});
  const int sub_code = sub->Subscribe(p + "#");
  EXPECT_TRUE(sub_code == 1 || sub_code == kNotAuthorized) << sub_code;
  ExpectAllowed(*collector, linear, "linear-2", true);
  ASSERT_TRUE(late->WaitForMessage(linear, "linear-2"));
  ExpectAllowed(*late, topics_.Readings("st-a"), "marker-sub");
  ASSERT_TRUE(sub->WaitForMessage(topics_.Readings("st-a"), "marker-sub"));
  for (const auto& m : sub->Messages()) EXPECT_EQ(m.topic, topics_.Readings("st-a")) << m.topic;
  // Clear what this test retained.
  for (const std::string& t : {linear, mine, theirs}) ExpectAllowed(*collector, t, "", true);
}

TEST_F(BrokerSecurityTest, CollectorPerformsItsDuties) {
  // Including the scale-out mode: an MQTT v5 shared subscription.
  auto collector =
      Open("svc.collector", {"$share/collectors/" + topics_.AllStations(StationChannel::kReadings),
                             topics_.AllStations(StationChannel::kPredictions),
                             topics_.AllStations(StationChannel::kStatus), topics_.AllManifests()});
  auto a = Open("st-a", {topics_.Ack("st-a"), topics_.Commands("st-a"), topics_.AllManifests()});

  ExpectAllowed(*a, topics_.Readings("st-a"), "r1");
  ExpectAllowed(*a, topics_.Predictions("st-a"), "p1");
  ExpectAllowed(*a, topics_.Status("st-a"), "online", true);
  EXPECT_TRUE(collector->WaitForMessage(topics_.Readings("st-a"), "r1"));
  EXPECT_TRUE(collector->WaitForMessage(topics_.Predictions("st-a"), "p1"));
  EXPECT_TRUE(collector->WaitForMessage(topics_.Status("st-a"), "online"));

  ExpectAllowed(*collector, topics_.Ack("st-a"), "ack1");
  ExpectAllowed(*collector, topics_.Commands("st-a"), "cmd1");
  ExpectAllowed(*collector, topics_.Manifest("o3", 60), "manifest1", true);
  EXPECT_TRUE(a->WaitForMessage(topics_.Ack("st-a"), "ack1"));
  EXPECT_TRUE(a->WaitForMessage(topics_.Commands("st-a"), "cmd1"));
  EXPECT_TRUE(a->WaitForMessage(topics_.Manifest("o3", 60), "manifest1"));
  // It reads back what it retained (its start-up check of published manifests).
  EXPECT_TRUE(collector->WaitForMessage(topics_.Manifest("o3", 60), "manifest1"));

  // A compromised collector still cannot speak for a station.
  ExpectDenied(*collector, topics_.Readings("st-a"));
  ExpectDenied(*collector, topics_.Status("st-a"), "forged", true);
}

TEST_F(BrokerSecurityTest, SubscriberRoleIsReadOnly) {
  auto sub = Open("sub.public", {topics_.AllStations(StationChannel::kReadings),
                                 topics_.AllStations(StationChannel::kPredictions),
                                 topics_.AllStations(StationChannel::kStatus)});
  for (const std::string& filter :
       {topics_.AllManifests(), topics_.Commands("st-a"), topics_.Ack("st-a"), std::string("#")}) {
    const int code = sub->Subscribe(filter);
    EXPECT_TRUE(code == 1 || code == kNotAuthorized) << filter << ": " << code;
  }
  ExpectDenied(*sub, topics_.Readings("st-a"));
  // The station patterns apply to every account; the consumer's own name is denied.
  ExpectDenied(*sub, topics_.Readings("sub.public"));
  ExpectDenied(*sub, topics_.Status("sub.public"), "forged", true);
  ExpectDenied(*sub, topics_.Manifest("pm25", 60), "forged", true);

  auto collector = Open("svc.collector", {});
  auto a = Open("st-a", {});
  ExpectAllowed(*collector, topics_.Commands("st-a"), "cmd");
  ExpectAllowed(*collector, topics_.Ack("st-a"), "ack");
  ExpectAllowed(*collector, topics_.Manifest("pm25", 60), "manifest", true);
  ExpectAllowed(*a, topics_.Predictions("st-a"), "p");
  ExpectAllowed(*a, topics_.Status("st-a"), "s", true);
  ExpectAllowed(*a, topics_.Readings("st-a"), "marker");
  ASSERT_TRUE(sub->WaitForMessage(topics_.Readings("st-a"), "marker"));
  for (const auto& m : sub->Messages()) {
    const auto parsed = topics_.ParseStation(m.topic);
    ASSERT_TRUE(parsed.has_value()) << "consumer read " << m.topic;
    EXPECT_TRUE(parsed->channel == StationChannel::kReadings ||
                parsed->channel == StationChannel::kPredictions ||
                parsed->channel == StationChannel::kStatus)
        << "consumer read " << m.topic;
  }
  EXPECT_FALSE(sub->MessagesOn(topics_.Predictions("st-a")).empty());
  EXPECT_FALSE(sub->MessagesOn(topics_.Status("st-a")).empty());
}

TEST_F(BrokerSecurityTest, WrongPasswordIsRefused) {
  ProbeOptions wrong = As("st-a");
  wrong.password = broker_->Password("st-b");
  Outcome o = TryConnect(wrong, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, kNotAuthorized) << o.output;

  ProbeOptions unknown = As("st-a");
  unknown.username = "st-unknown";
  o = TryConnect(unknown, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, kNotAuthorized) << o.output;

  ProbeOptions v3 = wrong;
  v3.mqtt_version = 311;
  o = TryConnect(v3, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, kV3NotAuthorised) << o.output;

  // The other client implementation is refused the same way.
  Probe paho(wrong, scratch_.path());
  EXPECT_EQ(paho.Connect().connack, kNotAuthorized);

  // A refused client's publish goes nowhere.
  auto collector = Open("svc.collector", {topics_.AllStations(StationChannel::kReadings)});
  EXPECT_FALSE(PublishOnce(wrong, topics_.Readings("st-a"), "bad-password", scratch_.path()).ok);
  auto a = Open("st-a", {});
  ExpectAllowed(*a, topics_.Readings("st-a"), "marker");
  ASSERT_TRUE(collector->WaitForMessage(topics_.Readings("st-a"), "marker"));
  EXPECT_EQ(collector->Messages().size(), 1u) << collector->Output();
}

TEST_F(BrokerSecurityTest, AnonymousIsRefusedOnEveryListener) {
  ProbeOptions tls;
  tls.port = broker_->tls_port();
  tls.ca_file = broker_->ca_file();
  Outcome o = TryConnect(tls, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, kNotAuthorized) << o.output;

  ProbeOptions plain;
  plain.port = broker_->plain_port();
  o = TryConnect(plain, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, kNotAuthorized) << o.output;
  plain.mqtt_version = 311;
  o = TryConnect(plain, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, kV3NotAuthorised) << o.output;
}

TEST_F(BrokerSecurityTest, PlaintextConnectionToTlsPortIsRefused) {
  ProbeOptions plaintext = As("st-a");
  plaintext.ca_file.clear();
  const Outcome o = TryConnect(plaintext, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, -1) << "the broker answered MQTT in clear:\n" << o.output;
  Probe paho(plaintext, scratch_.path());
  EXPECT_EQ(paho.Connect().connack, -1);
  // The broker shrugged it off and still serves TLS clients.
  EXPECT_TRUE(broker_->Running());
  EXPECT_TRUE(TryConnect(As("st-a"), scratch_.path()).ok);
}

TEST_F(BrokerSecurityTest, ClientRefusesBrokerCertificateFromAnotherCa) {
  // A man in the middle holding a certificate from another CA: the station
  // trusts only the network's CA and never sends its password.
  TempDir other;
  ASSERT_EQ(RunScript("scripts/make-dev-certs.sh", {other.File("pki")}, other.File("log")), 0)
      << ReadFile(other.File("log"));
  ProbeOptions mitm = As("st-a");
  mitm.ca_file = other.File("pki/ca.crt");
  const Outcome o = TryConnect(mitm, scratch_.path());
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.connack, -1) << o.output;
  Probe paho(mitm, scratch_.path());
  EXPECT_EQ(paho.Connect().connack, -1);
}

TEST_F(BrokerSecurityTest, LoopbackListenerEnforcesTheSameAcl) {
  auto collector = Open("svc.collector", {topics_.AllStations(StationChannel::kReadings)});
  ProbeOptions plain = As("st-a");
  plain.port = broker_->plain_port();
  plain.ca_file.clear();
  auto a = Open("st-a", {}, plain);
  ExpectDenied(*a, topics_.Readings("st-b"));
  ExpectAllowed(*a, topics_.Readings("st-a"), "marker");
  ASSERT_TRUE(collector->WaitForMessage(topics_.Readings("st-a"), "marker"));
  EXPECT_EQ(collector->Messages().size(), 1u) << collector->Output();
}

TEST_F(BrokerSecurityTest, StationCannotTakeOverAnotherStationsSession) {
  // B is connected with its usual client id; A connects claiming the same id.
  ProbeOptions ob = As("st-b");
  ob.client_id = "sentinelle-agent-st-b";
  auto b = Open("st-b", {topics_.Commands("st-b")}, ob);
  ProbeOptions oa = As("st-a");
  oa.client_id = "sentinelle-agent-st-b";
  auto a = Open("st-a", {topics_.Commands("st-a"), topics_.Commands("st-b")}, oa);

  auto collector = Open("svc.collector", {});
  ExpectAllowed(*collector, topics_.Commands("st-b"), "cmd-b");
  ExpectAllowed(*collector, topics_.Commands("st-a"), "cmd-a");
  EXPECT_TRUE(b->WaitForMessage(topics_.Commands("st-b"), "cmd-b"));
  EXPECT_TRUE(a->WaitForMessage(topics_.Commands("st-a"), "cmd-a"));
  // B was never disconnected, and A got none of B's commands.
  EXPECT_FALSE(b->Lost()) << b->Output();
  EXPECT_FALSE(a->Lost()) << a->Output();
  EXPECT_TRUE(a->MessagesOn(topics_.Commands("st-b")).empty());
}

TEST_F(BrokerSecurityTest, SecondConnectionOfAnAccountReplacesTheFirst) {
  // The price of use_username_as_clientid, documented in docs/SECURITY.md:
  // one live connection per account.
  auto first = Open("st-a", {topics_.Commands("st-a")});
  auto second = Open("st-a", {topics_.Commands("st-a")});
  EXPECT_TRUE(WaitFor([&] { return first->Lost(); })) << first->Output();
  EXPECT_FALSE(second->Lost());
}

TEST_F(BrokerSecurityTest, OversizedPayloadIsDropped) {
  auto collector = Open("svc.collector", {topics_.AllStations(StationChannel::kReadings)});
  auto a = Open("st-a", {});
  // docs/PROTOCOL.md: at most 1 MiB. One byte more never reaches anyone.
  const std::string limit(1 << 20, 'x');
  EXPECT_FALSE(a->Publish(topics_.Readings("st-a"), limit + "x").ok);
  ExpectAllowed(*a, topics_.Readings("st-a"), limit);
  ExpectAllowed(*a, topics_.Readings("st-a"), "marker");
  ASSERT_TRUE(collector->WaitForMessage(topics_.Readings("st-a"), "marker"));
  const auto got = collector->Messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload.size(), limit.size());
}

}  // namespace
}  // namespace sentinelle::testing
