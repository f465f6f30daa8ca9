// The registry, the signing key and manifests with real trained models, a
// real SQLite registry and real artifact files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "model_fixture.h"
#include "sentinelle/collector/distribution.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/crypto.h"
#include "sentinelle/predict/model_file.h"

namespace sentinelle::collector {
namespace {

using sentinelle::testing::SimulatedStore;
using sentinelle::testing::SmallTrainingConfig;
using sentinelle::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir();
    auto store = SimulatedStore(*data_, 2, 30);
    ASSERT_TRUE(store);
    FakeEnv env;
    Trainer trainer(SmallTrainingConfig(), store.get(), &env);
    auto good = trainer.Run(TrainRequest{}, {}, nullptr);
    ASSERT_TRUE(good.ok()) << good.message();
    models_ = new std::vector<TrainedModel>(std::move(*good));
    TrainRequest bad;
    bad.TEST_shuffle_train_labels = true;
    bad.linear = false;
    auto refused = trainer.Run(bad, {}, nullptr);
    ASSERT_TRUE(refused.ok()) << refused.message();
    models_->push_back(std::move((*refused)[0]));
  }
  static void TearDownTestSuite() {
    delete models_;
    delete data_;
  }
  void SetUp() override {
    auto r = ModelRegistry::Open(dir_.File("models"));
    ASSERT_TRUE(r.ok()) << r.message();
    registry_ = std::move(*r);
  }
  const TrainedModel& Network() { return (*models_)[0]; }    // xgboost network, gate passed
  const TrainedModel& Linear() { return (*models_)[1]; }     // linear network
  const TrainedModel& Shuffled() { return (*models_)[2]; }   // gate failed

  int64_t Register(const TrainedModel& m, int64_t now_s = 1767300000) {
    auto rec = registry_->Register(m, TriggerInfo{"manual", "alice", "j1"}, now_s);
    EXPECT_TRUE(rec.ok()) << rec.message();
    return rec.ok() ? rec->version : 0;
  }

  static TempDir* data_;
  static std::vector<TrainedModel>* models_;
  TempDir dir_;
  std::unique_ptr<ModelRegistry> registry_;
};
TempDir* RegistryTest::data_ = nullptr;
std::vector<TrainedModel>* RegistryTest::models_ = nullptr;

TEST_F(RegistryTest, RegistersContentAddressedArtifactsWithLineage) {
  ASSERT_TRUE(Network().gate_passed) << Network().gate_reason;
  ASSERT_FALSE(Shuffled().gate_passed);
  const int64_t v1 = Register(Network());
  const int64_t v2 = Register(Linear());
  EXPECT_GT(v2, v1);
  auto rec = registry_->Get(v1);
  ASSERT_TRUE(rec.ok() && *rec);
  const ModelRecord& r = **rec;
  EXPECT_EQ(r.stage, Stage::kCandidate);
  EXPECT_EQ(r.family.Label(), "pm25/60/network");
  EXPECT_EQ(r.trigger.by, "alice");
  EXPECT_EQ(r.trigger.job_id, "j1");
  EXPECT_EQ(r.parent_version, 0);
  EXPECT_FALSE(r.xgboost_version.empty());
  for (const char* k : {"window", "stations", "rows", "feature_spec", "hyperparameters", "metrics",
                        "metrics_per_station", "booster_sha256"}) {
    EXPECT_TRUE(r.lineage.contains(k)) << k;
  }
  EXPECT_EQ(r.lineage["stations"].size(), 2u);
  EXPECT_TRUE(r.lineage["metrics"].contains("skill"));
  // The artifact lives under its own sha256 and is the model file of that version.
  const std::string path = registry_->ArtifactPath(r.artifact_sha256);
  EXPECT_NE(path.find(r.artifact_sha256.substr(0, 2) + "/" + r.artifact_sha256), std::string::npos);
  const std::string bytes = ReadFile(path);
  EXPECT_EQ(Sha256Hex(bytes), r.artifact_sha256);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), r.artifact_size);
  auto loaded = predict::LoadModel(bytes, {});
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  EXPECT_EQ((*loaded)->meta.version, std::to_string(v1));
  auto served = registry_->ReadArtifact(v1);
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(*served, bytes);
  // Linear fallbacks are their own family.
  auto lin = registry_->Get(v2);
  ASSERT_TRUE(lin.ok() && *lin);
  EXPECT_EQ((*lin)->family.kind, "linear");
  // Reopening keeps everything.
  registry_.reset();
  auto reopened = ModelRegistry::Open(dir_.File("models"));
  ASSERT_TRUE(reopened.ok());
  auto list = (*reopened)->List({});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(RegistryTest, StagesPromoteArchiveAndRollBackWithHistory) {
  const int64_t v1 = Register(Network());
  const int64_t v2 = Register(Network());
  const int64_t bad = Register(Shuffled());
  // A model that does not beat persistence stays a candidate.
  auto refused = registry_->Promote(bad, Stage::kProduction, {}, "bob", "try", 100);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("did not beat seasonal persistence"), std::string::npos);
  EXPECT_FALSE(registry_->Promote(bad, Stage::kCanary, {"st-a"}, "bob", "try", 100).ok());
  // Canary needs stations, production refuses them.
  EXPECT_FALSE(registry_->Promote(v1, Stage::kCanary, {}, "bob", "x", 100).ok());
  EXPECT_FALSE(registry_->Promote(v1, Stage::kProduction, {"st-a"}, "bob", "x", 100).ok());

  ASSERT_TRUE(registry_->Promote(v1, Stage::kProduction, {}, "bob", "first", 100).ok());
  // v3 is trained while v1 runs: its parent is v1.
  const int64_t v3 = Register(Network());
  auto r3 = registry_->Get(v3);
  ASSERT_TRUE(r3.ok() && *r3);
  EXPECT_EQ((*r3)->parent_version, v1);

  auto canary = registry_->Promote(v2, Stage::kCanary, {"st-a"}, "bob", "canary", 200);
  ASSERT_TRUE(canary.ok()) << canary.message();
  EXPECT_EQ(canary->rollout_stations, std::vector<std::string>{"st-a"});
  ASSERT_TRUE(registry_->Promote(v2, Stage::kProduction, {}, "bob", "good", 300).ok());
  auto prod = registry_->Production(canary->family);
  ASSERT_TRUE(prod.ok() && *prod);
  EXPECT_EQ((*prod)->version, v2);
  auto old = registry_->Get(v1);
  EXPECT_EQ((*old)->stage, Stage::kArchived);
  EXPECT_NE((*old)->stage_reason.find("replaced by version"), std::string::npos);
  // Archived models only come back by rollback.
  EXPECT_FALSE(registry_->Promote(v1, Stage::kProduction, {}, "bob", "x", 350).ok());

  auto back = registry_->Rollback(canary->family, "carol", "bad at night", 400);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->version, v1);
  EXPECT_EQ(back->stage, Stage::kProduction);
  auto rolled = registry_->Get(v2);
  EXPECT_EQ((*rolled)->stage, Stage::kArchived);
  EXPECT_NE((*rolled)->stage_reason.find("bad at night"), std::string::npos);
  auto history = registry_->History(v2);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 4u);  // registered, canary, production, archived
  EXPECT_EQ((*history)[3].by, "carol");
  EXPECT_EQ((*history)[3].to, "archived");
  // Nothing earlier than v1 ever ran: a second rollback has nowhere to go.
  EXPECT_FALSE(registry_->Rollback(canary->family, "carol", "again", 500).ok());

  auto cmp = registry_->Compare(v1, v2);
  ASSERT_TRUE(cmp.ok());
  EXPECT_TRUE((*cmp)["same_family"].get<bool>());
  EXPECT_TRUE((*cmp)["same_feature_spec"].get<bool>());
  EXPECT_DOUBLE_EQ((*cmp)["metrics_b_minus_a"]["rmse"].get<double>(), 0.0);
}

TEST_F(RegistryTest, AccuracyGateDecidesAndRecordsTheReason) {
  LiveComparison live{0, 10.0, 100, 11.0, 100};
  EXPECT_EQ(DecideRollout(live, 1.0, 288).verdict, RolloutVerdict::kWait);
  EXPECT_EQ(DecideRollout(live, 1.0, 50).verdict, RolloutVerdict::kPromote);
  live.candidate_rmse = 11.5;
  EXPECT_EQ(DecideRollout(live, 1.0, 50).verdict, RolloutVerdict::kRollBack);
  EXPECT_EQ(DecideRollout(live, 1.1, 50).verdict, RolloutVerdict::kPromote);
  live.candidate_rmse = NAN;
  EXPECT_EQ(DecideRollout(live, 1.0, 50).verdict, RolloutVerdict::kRollBack);

  const int64_t v1 = Register(Network());
  const int64_t v2 = Register(Network());
  const int64_t v3 = Register(Network());
  ASSERT_TRUE(registry_->Promote(v1, Stage::kProduction, {}, "bob", "first", 100).ok());
  ASSERT_TRUE(registry_->Promote(v2, Stage::kShadow, {"st-a"}, "bob", "shadow", 110).ok());
  // Not enough pairs: nothing changes.
  auto wait = registry_->ApplyRollout(v2, DecideRollout({v2, 5, 10, 6, 10}, 1.0, 288), "gate", 120);
  ASSERT_TRUE(wait.ok());
  EXPECT_EQ(wait->stage, Stage::kShadow);
  // Worse live error: rolled back, the reason recorded.
  auto worse = registry_->ApplyRollout(v2, DecideRollout({v2, 9, 300, 6, 300}, 1.0, 288), "gate", 130);
  ASSERT_TRUE(worse.ok()) << worse.message();
  EXPECT_EQ(worse->stage, Stage::kArchived);
  EXPECT_NE(worse->stage_reason.find("rolled back by the accuracy gate"), std::string::npos);
  EXPECT_NE(worse->stage_reason.find("worse"), std::string::npos);
  // One staged version per family at a time: the canary comes after the
  // shadow's rollout ended.
  ASSERT_TRUE(registry_->Promote(v3, Stage::kCanary, {"st-b"}, "bob", "canary", 135).ok());
  // Not worse: promoted network-wide, v1 archived.
  auto better = registry_->ApplyRollout(v3, DecideRollout({v3, 5, 300, 6, 300}, 1.0, 288), "gate", 140);
  ASSERT_TRUE(better.ok()) << better.message();
  EXPECT_EQ(better->stage, Stage::kProduction);
  EXPECT_TRUE(better->rollout_stations.empty());
  EXPECT_EQ((*registry_->Get(v1))->stage, Stage::kArchived);
  // Only shadow/canary versions go through the gate.
  EXPECT_FALSE(registry_->ApplyRollout(v3, {RolloutVerdict::kPromote, "x"}, "gate", 150).ok());
}

TEST_F(RegistryTest, ATamperedArtifactIsNeverServed) {
  const int64_t v = Register(Network());
  auto rec = registry_->Get(v);
  const std::string path = registry_->ArtifactPath((*rec)->artifact_sha256);
  std::string bytes = ReadFile(path);
  bytes[bytes.size() / 2] ^= 0x01;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  auto served = registry_->ReadArtifact(v);
  ASSERT_FALSE(served.ok());
  EXPECT_NE(served.message().find("does not match its sha256"), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_FALSE(registry_->ReadArtifact(v).ok());
  EXPECT_FALSE(registry_->ReadArtifact(v + 100).ok());
}

TEST_F(RegistryTest, SigningKeyIsCreatedOnceWithPrivateMode) {
  const std::string priv = dir_.File("keys/signing.key");
  const std::string pub = dir_.File("keys/signing.pub");
  auto first = LoadOrCreateSigningKey(priv, pub);
  ASSERT_TRUE(first.ok()) << first.message();
  struct stat st {};
  ASSERT_EQ(::stat(priv.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateSigningKey(priv, pub);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->private_key, first->private_key);
  auto exported = ReadKeyFile(pub);
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(*exported, first->public_key);
  // A public key that belongs to another pair is refused.
  auto other = GenerateEd25519KeyPair();
  ASSERT_TRUE(WriteKeyFile(pub, other->public_key, false).ok());
  EXPECT_FALSE(LoadOrCreateSigningKey(priv, pub).ok());
  // A private key readable by others is refused.
  ASSERT_TRUE(WriteKeyFile(pub, first->public_key, false).ok());
  ::chmod(priv.c_str(), 0644);
  auto loose = LoadOrCreateSigningKey(priv, pub);
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(loose.message().find("chmod 600"), std::string::npos);
  // A lone public key is not silently replaced.
  std::filesystem::remove(priv);
  EXPECT_FALSE(LoadOrCreateSigningKey(priv, pub).ok());
}

TEST_F(RegistryTest, ManifestsVerifyWithThePublicKeyOnly) {
  auto key = LoadOrCreateSigningKey(dir_.File("k/signing.key"), dir_.File("k/signing.pub"));
  ASSERT_TRUE(key.ok());
  const int64_t v = Register(Network());
  auto promoted = registry_->Promote(v, Stage::kCanary, {"st-a", "st-b"}, "bob", "canary", 100);
  ASSERT_TRUE(promoted.ok());
  std::vector<std::pair<std::string, std::string>> published;
  Distributor dist(registry_.get(), *key, ModelsConfig{}, "sentinelle/v1",
                   [&](const std::string& t, const std::string& p) { published.emplace_back(t, p); });
  auto m = dist.Announce(v, 1767300000);
  ASSERT_TRUE(m.ok()) << m.message();
  // A canary goes out on the family's rollout topic; production's stays as it is.
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].first, "sentinelle/v1/models/pm25/60/rollout/manifest");
  auto decoded = DecodeManifest(published[0].second);
  ASSERT_TRUE(decoded.ok()) << decoded.message();
  const std::string public_key = *ReadKeyFile(dir_.File("k/signing.pub"));
  EXPECT_TRUE(VerifyManifest(*decoded, public_key));
  EXPECT_EQ(decoded->version, v);
  EXPECT_EQ(decoded->stage, "canary");
  EXPECT_EQ(decoded->stations, (std::vector<std::string>{"st-a", "st-b"}));
  EXPECT_EQ(decoded->artifact_sha256, promoted->artifact_sha256);
  EXPECT_EQ(decoded->artifact_size, promoted->artifact_size);
  EXPECT_EQ(decoded->expires_s, 1767300000 + ModelsConfig{}.manifest_ttl_s);
  EXPECT_EQ(decoded->artifact_url,
            "http://127.0.0.1:8080/api/v1/models/" + std::to_string(v) + "/artifact");
  EXPECT_FALSE(decoded->xgboost_version.empty());
  auto spec = predict::FeatureSpec::FromJson(decoded->feature_spec);
  ASSERT_TRUE(spec.ok()) << spec.message();
  EXPECT_EQ(spec->Fingerprint(), Network().spec.Fingerprint());
  // Any change breaks the signature; another key does not verify.
  Manifest tampered = *decoded;
  tampered.artifact_sha256[0] = tampered.artifact_sha256[0] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(VerifyManifest(tampered, public_key));
  Manifest scope = *decoded;
  scope.stations.clear();  // widening the rollout scope
  EXPECT_FALSE(VerifyManifest(scope, public_key));
  EXPECT_FALSE(VerifyManifest(*decoded, GenerateEd25519KeyPair()->public_key));
  // Candidates and archived versions are not announced.
  const int64_t candidate = Register(Network());
  EXPECT_FALSE(dist.Announce(candidate, 1767300000).ok());
  // A signed rollback permission is part of the signed bytes.
  auto rb = dist.Announce(v, 1767300100, true);
  ASSERT_TRUE(rb.ok());
  EXPECT_TRUE(rb->rollback);
  EXPECT_TRUE(VerifyManifest(*rb, public_key));
  ASSERT_TRUE(dist.LatestManifest(v).has_value());
  EXPECT_TRUE(dist.LatestManifest(v)->rollback);
}

}  // namespace
}  // namespace sentinelle::collector
