// Distribution round trip on the collector's side with a real Mosquitto,
// the collector's HTTP server and libcurl: retained signed manifests,
// artifact download (with resume), the API's roles, training jobs over HTTP,
// rollback announcements, and ingest committing while a job trains.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "broker.h"
#include "http_client.h"
#include "model_fixture.h"
#include "sentinelle/collector/training_service.h"
#include "sentinelle/crypto.h"
#include "sentinelle/fetch.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/predict/prediction_codec.h"
#include "test_agent.h"

namespace sentinelle::collector {
namespace {

using nlohmann::json;
using sentinelle::testing::HttpCall;
using sentinelle::testing::kFixtureAdminToken;
using sentinelle::testing::kFixtureScientistToken;
using sentinelle::testing::kFixtureViewerToken;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::ServedModel;
using sentinelle::testing::ServedModelOptions;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;
using sentinelle::testing::WaitForJob;

// The retained message on `topic` (mosquitto_sub, as any subscriber would see it).
std::string Retained(int port, const std::string& topic) {
  const std::string get = "mosquitto_sub -h 127.0.0.1 -p " + std::to_string(port) + " -t '" +
                          topic + "' -C 1 -W 5 2>/dev/null";
  std::string out;
  if (FILE* f = ::popen(get.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    ::pclose(f);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DistributionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start()) << broker_.Log(); }
  std::unique_ptr<ServedModel> Serve(ServedModelOptions o = {}) {
    o.broker_uri = broker_.uri();
    std::string error;
    auto s = ServedModel::Start(o, &error);
    EXPECT_TRUE(s) << error;
    return s;
  }
  MosquittoBroker broker_;
};

TEST_F(DistributionTest, RetainedSignedManifestAndArtifactRoundTrip) {
  auto served = Serve();
  ASSERT_TRUE(served);
  // The retained manifest, as an agent receives it on (re)connect.
  std::string payload;
  ASSERT_TRUE(WaitFor([&] {
    payload = Retained(broker_.port(), "sentinelle/v1/models/pm25/60/manifest");
    return !payload.empty();
  }, std::chrono::seconds(20)));
  auto m = DecodeManifest(payload);
  ASSERT_TRUE(m.ok()) << m.message() << ": " << payload;
  auto public_key = ReadKeyFile(served->public_key_path);
  ASSERT_TRUE(public_key.ok());
  EXPECT_TRUE(VerifyManifest(*m, *public_key));
  EXPECT_EQ(m->version, served->version);
  EXPECT_EQ(m->stage, "production");
  EXPECT_TRUE(m->stations.empty());
  EXPECT_GT(m->expires_s, m->created_s);

  // Download as the agent does: libcurl, viewer token, size cap, atomic file.
  TempDir agent;
  FetchOptions fo;
  fo.bearer_token = kFixtureViewerToken;
  fo.max_bytes = m->artifact_size;
  auto got = FetchToFile(m->artifact_url, agent.File("model.json"), fo);
  ASSERT_TRUE(got.ok()) << got.message();
  const std::string bytes = Slurp(agent.File("model.json"));
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), m->artifact_size);
  EXPECT_EQ(Sha256Hex(bytes), m->artifact_sha256);  // bytes served equal their sha256
  auto loaded = predict::LoadModel(bytes, {});
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  auto spec = predict::FeatureSpec::FromJson(m->feature_spec);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ((*loaded)->meta.spec, *spec);

  // Resume: a partial file is completed with a Range request.
  {
    std::ofstream part(agent.File("again.json.part"), std::ios::binary);
    part << bytes.substr(0, bytes.size() / 3);
  }
  auto resumed = FetchToFile(m->artifact_url, agent.File("again.json"), fo);
  ASSERT_TRUE(resumed.ok()) << resumed.message();
  EXPECT_EQ(resumed->resumed_from, static_cast<int64_t>(bytes.size() / 3));
  EXPECT_EQ(Slurp(agent.File("again.json")), bytes);

  // No token, or a cap below the size: refused.
  FetchOptions anonymous;
  EXPECT_FALSE(FetchToFile(m->artifact_url, agent.File("anon.json"), anonymous).ok());
  FetchOptions small = fo;
  small.max_bytes = m->artifact_size - 1;
  EXPECT_FALSE(FetchToFile(m->artifact_url, agent.File("small.json"), small).ok());

  // The signed manifest and the public key over HTTP too.
  const int port = served->http_port();
  // The collector re-signs a manifest when it re-announces it (a fresh
  // `created`, e.g. right after start-up notices the fixture's promotion), so
  // the API's copy is compared with what is retained at the same moment.
  sentinelle::testing::HttpResult mf;
  std::string retained_now;
  EXPECT_TRUE(WaitFor([&] {
    mf = HttpCall(port, "GET", "/api/v1/models/" + std::to_string(m->version) + "/manifest",
                  kFixtureViewerToken);
    retained_now = Retained(broker_.port(), "sentinelle/v1/models/pm25/60/manifest");
    return mf.status == 200 && mf.body == retained_now;
  }, std::chrono::seconds(20))) << mf.status << " " << mf.body << "\nretained: " << retained_now;
  auto api_manifest = DecodeManifest(mf.body);
  ASSERT_TRUE(api_manifest.ok()) << mf.body;
  EXPECT_TRUE(VerifyManifest(*api_manifest, *public_key));
  EXPECT_EQ(api_manifest->version, m->version);
  EXPECT_EQ(api_manifest->artifact_sha256, m->artifact_sha256);
  auto pk = HttpCall(port, "GET", "/api/v1/models/public-key", kFixtureViewerToken);
  ASSERT_EQ(pk.status, 200);
  EXPECT_EQ(json::parse(pk.body)["public_key"], ToHex(*public_key));

  // An artifact changed on disk is refused by the server, never served.
  const std::string path =
      served->collector().models()->registry().ArtifactPath(m->artifact_sha256);
  {
    std::string evil = bytes;
    evil[evil.size() / 2] ^= 0x20;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << evil;
  }
  auto tampered = HttpCall(port, "GET", "/api/v1/models/" + std::to_string(m->version) + "/artifact",
                           kFixtureViewerToken);
  EXPECT_EQ(tampered.status, 500);
  EXPECT_NE(tampered.body.find("does not match its sha256"), std::string::npos);
}

TEST_F(DistributionTest, ApiRolesTrainingJobsPromotionAndRollback) {
  auto served = Serve();
  ASSERT_TRUE(served);
  const int port = served->http_port();
  const std::string v1 = std::to_string(served->version);

  // Roles: viewers read; training and promotion need data_scientist or admin.
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/models").status, 401);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/train", kFixtureViewerToken, "{}").status, 403);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/models/" + v1 + "/promote", kFixtureViewerToken,
                     R"({"stage":"archived"})").status, 403);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/train", kFixtureScientistToken,
                     R"({"targets":["nope"]})").status, 400);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/train", kFixtureScientistToken,
                     R"({"surprise":1})").status, 400);

  // On-demand training returns a job id with progress.
  auto train = HttpCall(port, "POST", "/api/v1/train", kFixtureScientistToken,
                        R"({"targets":["pm25"],"horizons_min":[60],"linear":false})");
  ASSERT_EQ(train.status, 202) << train.body;
  const std::string job = json::parse(train.body)["job"];
  json status;
  ASSERT_TRUE(WaitFor([&] {
    auto r = HttpCall(port, "GET", "/api/v1/jobs/" + job, kFixtureViewerToken);
    if (r.status != 200) return false;
    status = json::parse(r.body);
    return status["state"] == "succeeded" || status["state"] == "failed";
  }, std::chrono::seconds(60)));
  ASSERT_EQ(status["state"], "succeeded") << status.dump();
  EXPECT_EQ(status["trigger"]["by"], "fixture-scientist");
  EXPECT_EQ(status["progress"]["done"], status["progress"]["total"]);
  ASSERT_EQ(status["versions"].size(), 1u);
  const std::string v2 = std::to_string(status["versions"][0].get<int64_t>());

  auto inspect = HttpCall(port, "GET", "/api/v1/models/" + v2, kFixtureViewerToken);
  ASSERT_EQ(inspect.status, 200);
  json rec = json::parse(inspect.body);
  EXPECT_EQ(rec["stage"], "candidate");
  EXPECT_EQ(rec["parent_version"], served->version);
  EXPECT_EQ(rec["trigger"]["job"], job);
  EXPECT_TRUE(rec["lineage"].contains("feature_spec"));
  auto list = HttpCall(port, "GET", "/api/v1/models?target=pm25&stage=candidate", kFixtureViewerToken);
  ASSERT_EQ(list.status, 200);
  EXPECT_GE(json::parse(list.body)["models"].size(), 1u);
  auto cmp = HttpCall(port, "GET", "/api/v1/models/compare?a=" + v1 + "&b=" + v2, kFixtureViewerToken);
  ASSERT_EQ(cmp.status, 200);
  EXPECT_TRUE(json::parse(cmp.body)["same_family"].get<bool>());

  // Canary on one station: the retained rollout manifest names it, and the
  // production manifest stays retained next to it.
  auto canary = HttpCall(port, "POST", "/api/v1/models/" + v2 + "/promote", kFixtureScientistToken,
                         R"({"stage":"canary","stations":["abj-plateau"],"reason":"try it"})");
  ASSERT_EQ(canary.status, 200) << canary.body;
  const std::string rollout_topic = "sentinelle/v1/models/pm25/60/rollout/manifest";
  std::string payload;
  ASSERT_TRUE(WaitFor([&] {
    payload = Retained(broker_.port(), rollout_topic);
    auto m = DecodeManifest(payload);
    return m.ok() && std::to_string(m->version) == v2;
  }, std::chrono::seconds(20)));
  auto cm = DecodeManifest(payload);
  EXPECT_EQ(cm->stage, "canary");
  EXPECT_EQ(cm->stations, std::vector<std::string>{"abj-plateau"});
  auto still = DecodeManifest(Retained(broker_.port(), "sentinelle/v1/models/pm25/60/manifest"));
  ASSERT_TRUE(still) << still.message();
  EXPECT_EQ(std::to_string(still->version), v1);
  EXPECT_EQ(still->stage, "production");

  // The gate takes no figures from callers, and measures shadow versions.
  auto figures = HttpCall(port, "POST", "/api/v1/models/" + v2 + "/rollout", kFixtureScientistToken,
                          R"({"candidate_rmse":1.0,"candidate_samples":400,"current_rmse":6.0,"current_samples":400})");
  EXPECT_EQ(figures.status, 400) << figures.body;
  auto canary_gate = HttpCall(port, "POST", "/api/v1/models/" + v2 + "/rollout", kFixtureScientistToken);
  EXPECT_EQ(canary_gate.status, 409) << canary_gate.body;

  // The operator override: archiving the canary re-announces production
  // with a signed rollback permission, the reason recorded.
  auto gate = HttpCall(port, "POST", "/api/v1/models/" + v2 + "/promote", kFixtureScientistToken,
                       R"({"stage":"archived","reason":"canary looked wrong"})");
  ASSERT_EQ(gate.status, 200) << gate.body;
  ASSERT_TRUE(WaitFor([&] {
    auto m = DecodeManifest(Retained(broker_.port(), "sentinelle/v1/models/pm25/60/manifest"));
    return m.ok() && std::to_string(m->version) == v1 && m->rollback &&
           VerifyManifest(*m, served->public_key);
  }, std::chrono::seconds(20)));
  // The rollout ended: its topic is cleared.
  ASSERT_TRUE(WaitFor([&] { return Retained(broker_.port(), rollout_topic).empty(); },
                      std::chrono::seconds(20)));
  rec = json::parse(HttpCall(port, "GET", "/api/v1/models/" + v2, kFixtureViewerToken).body);
  EXPECT_EQ(rec["stage"], "archived");
  EXPECT_EQ(rec["stage_reason"], "canary looked wrong");

  // Manual rollback with nothing older to return to: 404, production untouched.
  auto rb = HttpCall(port, "POST", "/api/v1/models/rollback", kFixtureAdminToken,
                     R"({"target":"pm25","horizon_min":60,"kind":"network","reason":"test"})");
  EXPECT_EQ(rb.status, 404) << rb.body;
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/models/999999", kFixtureViewerToken).status, 404);
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/jobs/nope", kFixtureViewerToken).status, 404);
}

// Publishes, as a station does, prediction batches for the windows of
// `windows`: the answer at actual + answer_error, the shadow version's at
// actual + shadow_error (actual = the stored reading of the target window).
void PublishLive(sentinelle::testing::TestAgent& agent, HistoryStore& store, int64_t production,
                 int64_t shadow_version, const std::vector<int64_t>& windows, double answer_error,
                 double shadow_error) {
  const std::string sha(64, 'c');
  for (int64_t t : windows) {
    auto target = store.QueryReadings(agent.station(), TimeRange{t + 3600, t + 3601}, 1);
    ASSERT_TRUE(target.ok() && target->size() == 1u);
    const double actual = (*target)[0].reading.value(Variable::kPm25);
    predict::Prediction p;
    p.station_id = agent.station();
    p.from_seq = 1;
    p.from_window_end_s = t;
    p.target = Variable::kPm25;
    p.horizon_min = 60;
    p.target_time_s = t + 3600;
    p.link = predict::LinkKind::kNetwork;
    p.model_version = std::to_string(production);
    p.model_sha256 = sha;
    p.value = actual + answer_error;
    predict::PredictionBatch batch = predict::MakePredictionBatch({p});
    p.model_version = std::to_string(shadow_version);
    p.value = actual + shadow_error;
    batch.shadow = {p};
    ASSERT_TRUE(agent.PublishRaw("sentinelle/v1/stations/" + agent.station() + "/predictions",
                                 predict::EncodePredictionBatch(batch)));
  }
}

// The windows of a station with a valid pm25 reading an hour later.
std::vector<int64_t> LabelledWindows(HistoryStore& store, const std::string& station, size_t count) {
  auto rows = store.QueryReadings(station, TimeRange{}, INT64_MAX);
  std::set<int64_t> valid;
  for (const auto& r : *rows) {
    if (r.reading.valid(Variable::kPm25)) valid.insert(r.reading.window_end_s);
  }
  std::vector<int64_t> out;
  for (int64_t t : valid) {
    if (valid.count(t + 3600) && valid.count(t)) out.push_back(t);
  }
  if (out.size() > count) out.erase(out.begin(), out.end() - static_cast<ptrdiff_t>(count));
  return out;
}

TEST_F(DistributionTest, AccuracyGateDecidesFromLiveShadowAnswersAndStoredReadings) {
  ServedModelOptions o;
  o.min_live_samples = 60;
  o.rollout_check_interval_s = 1;
  auto served = Serve(o);
  ASSERT_TRUE(served);
  TrainingService& models = *served->collector().models();
  HistoryStore& store = served->collector().store();
  auto stations = store.ListStations();
  ASSERT_TRUE(stations.ok() && stations->size() >= 2u);
  const std::string st_a = (*stations)[0].info.id, st_b = (*stations)[1].info.id;
  const int port = served->http_port();
  const int64_t v1 = served->version;
  auto train = [&]() -> int64_t {
    TrainRequest req;
    req.linear = false;
    req.station_models = false;
    auto id = models.jobs().Submit(req, TriggerInfo{"manual", "test", ""});
    EXPECT_TRUE(id.ok());
    auto job = WaitForJob(models.jobs(), *id, std::chrono::seconds(120));
    EXPECT_TRUE(job && job->state == JobState::kSucceeded && job->versions.size() == 1u);
    return job && !job->versions.empty() ? job->versions[0] : 0;
  };

  // v2 runs in shadow on station A.
  const int64_t v2 = train();
  ASSERT_GT(v2, v1);
  ASSERT_TRUE(models.api().Promote(v2, Stage::kShadow, {st_a}, "test", "try it").ok());
  // Too few live pairs: the gate waits (and says so through the API).
  sentinelle::testing::TestAgent a(broker_.uri(), st_a);
  ASSERT_TRUE(a.Connect());
  const auto windows_a = LabelledWindows(store, st_a, 100);
  ASSERT_EQ(windows_a.size(), 100u);
  PublishLive(a, store, v1, v2, {windows_a.begin(), windows_a.begin() + 20}, 4.0, 1.0);
  auto wait = HttpCall(port, "POST", "/api/v1/models/" + std::to_string(v2) + "/rollout",
                       kFixtureScientistToken);
  ASSERT_TRUE(WaitFor([&] {
    wait = HttpCall(port, "POST", "/api/v1/models/" + std::to_string(v2) + "/rollout",
                    kFixtureScientistToken);
    return wait.status == 200 && json::parse(wait.body)["live"]["pairs"] == 20;
  }, std::chrono::seconds(20))) << wait.body;
  EXPECT_EQ(json::parse(wait.body)["verdict"], "wait");
  EXPECT_EQ((*models.registry().Get(v2))->stage, Stage::kShadow);

  // Enough pairs, shadow error 1 vs the station's answers' 4: promoted
  // network-wide by the periodic check, announced, the figures recorded.
  PublishLive(a, store, v1, v2, {windows_a.begin() + 20, windows_a.end()}, 4.0, 1.0);
  ASSERT_TRUE(WaitFor([&] {
    auto r = models.registry().Get(v2);
    return r.ok() && *r && (*r)->stage == Stage::kProduction;
  }, std::chrono::seconds(30)));
  auto rec2 = *models.registry().Get(v2);
  EXPECT_NE(rec2->stage_reason.find("accuracy gate"), std::string::npos) << rec2->stage_reason;
  EXPECT_NE(rec2->stage_reason.find("not worse"), std::string::npos) << rec2->stage_reason;
  EXPECT_TRUE(rec2->rollout_stations.empty());
  EXPECT_EQ((*models.registry().Get(v1))->stage, Stage::kArchived);
  ASSERT_TRUE(WaitFor([&] {
    auto m = DecodeManifest(Retained(broker_.port(), "sentinelle/v1/models/pm25/60/manifest"));
    return m.ok() && m->version == v2 && m->stage == "production";
  }, std::chrono::seconds(20)));

  // v3 in shadow on station B is worse than what B answers: rolled back
  // automatically, the reason in the registry, production (v2) re-announced
  // with the signed rollback permission.
  const int64_t v3 = train();
  ASSERT_GT(v3, v2);
  ASSERT_TRUE(models.api().Promote(v3, Stage::kShadow, {st_b}, "test", "try it").ok());
  sentinelle::testing::TestAgent b(broker_.uri(), st_b);
  ASSERT_TRUE(b.Connect());
  PublishLive(b, store, v2, v3, LabelledWindows(store, st_b, 80), 1.0, 5.0);
  ASSERT_TRUE(WaitFor([&] {
    auto r = models.registry().Get(v3);
    return r.ok() && *r && (*r)->stage == Stage::kArchived;
  }, std::chrono::seconds(30)));
  auto rec3 = *models.registry().Get(v3);
  EXPECT_NE(rec3->stage_reason.find("rolled back by the accuracy gate"), std::string::npos)
      << rec3->stage_reason;
  EXPECT_NE(rec3->stage_reason.find("worse"), std::string::npos) << rec3->stage_reason;
  EXPECT_EQ((*models.registry().Get(v2))->stage, Stage::kProduction);
  ASSERT_TRUE(WaitFor([&] {
    auto m = DecodeManifest(Retained(broker_.port(), "sentinelle/v1/models/pm25/60/manifest"));
    return m.ok() && m->version == v2 && m->rollback && VerifyManifest(*m, served->public_key);
  }, std::chrono::seconds(20)));
  // The shadow answers are kept with their version.
  auto kept = models.registry().ShadowPredictions(v3);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 80u);
  EXPECT_EQ(models.shadow_answers_dropped(), 0);
}

TEST_F(DistributionTest, IngestKeepsCommittingWhileAJobTrains) {
  auto served = Serve();
  ASSERT_TRUE(served);
  TrainingService& models = *served->collector().models();
  // A heavy job: every default target, station models too. The trainer is
  // kept busy for the whole measurement: whenever every submitted job has
  // finished before enough rounds were measured, another one is queued, so a
  // slow round (a loaded machine) cannot outlast the training it is measured
  // against. A round counts only when a job was unfinished both before the
  // readings were published and after their acknowledgement arrived, and the
  // store committed in between. Ingest blocked behind training could never
  // count: its rounds would end only when the jobs holding them had finished.
  TrainRequest heavy;
  heavy.targets = {Variable::kPm25, Variable::kPm10, Variable::kNo2, Variable::kO3};
  heavy.horizons_min = {5, 60};
  std::vector<std::string> jobs;
  auto submit = [&] {
    auto id = models.jobs().Submit(heavy, TriggerInfo{"manual", "test", ""});
    ASSERT_TRUE(id.ok()) << id.message();
    jobs.push_back(*id);
  };
  auto busy = [&] {
    for (const std::string& id : jobs) {
      const JobState s = models.jobs().Get(id)->state;
      if (s == JobState::kQueued || s == JobState::kRunning) return true;
    }
    return false;
  };
  submit();
  ASSERT_TRUE(WaitFor([&] { return models.jobs().Get(jobs[0])->state == JobState::kRunning; }));
  sentinelle::testing::TestAgent agent(broker_.uri(), "live-st");
  ASSERT_TRUE(agent.Connect());
  auto& pipeline = served->collector().pipeline();
  constexpr int kWanted = 5;
  constexpr size_t kMaxJobs = 6;
  int committed_while_training = 0;
  int rounds = 0;
  int64_t seq = 1;
  while (committed_while_training < kWanted) {
    if (!busy()) {
      if (jobs.size() >= kMaxJobs) break;
      submit();
    }
    const bool busy_before = busy();
    const int64_t before = pipeline.commits();
    ASSERT_TRUE(agent.Publish(seq, seq + 4));
    ASSERT_TRUE(WaitFor([&] { return agent.AckedAll(seq, seq + 4); }, std::chrono::seconds(10)))
        << "ingest stalled behind training";
    ++rounds;
    if (busy_before && busy() && pipeline.commits() > before) ++committed_while_training;
    seq += 5;
  }
  EXPECT_GE(committed_while_training, kWanted)
      << rounds << " rounds over " << jobs.size() << " jobs";
  for (const std::string& id : jobs) {
    auto done = WaitForJob(models.jobs(), id, std::chrono::seconds(120));
    ASSERT_TRUE(done.has_value()) << id;
    EXPECT_EQ(done->state, JobState::kSucceeded) << id << ": " << done->message;
  }
}

}  // namespace
}  // namespace sentinelle::collector
