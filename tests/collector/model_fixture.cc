#include "model_fixture.h"

#include <cstdlib>

#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/import.h"
#include "sentinelle/collector/training_jobs.h"
#include "sentinelle/collector/training_service.h"
#include "sentinelle/crypto.h"

namespace sentinelle::testing {

using namespace sentinelle::collector;

std::string GenerateHistory(const std::string& dir, int stations, int days, uint64_t seed) {
  const std::string out = dir + "/history.csv";
  const std::string cmd = BinPath("sentinelle-sim") + " generate --stations " +
                          std::to_string(stations) + " --days " + std::to_string(days) +
                          " --seed " + std::to_string(seed) + " --out " + out + " > " + dir +
                          "/sim.log 2>&1";
  return std::system(cmd.c_str()) == 0 ? out : "";
}

bool ImportHistory(HistoryStore& store, const std::string& csv_path) {
  auto r = ImportHistoryCsv(store, CsvFileSource(csv_path), {}, 1767225600000);
  return r.ok() && r->inserted > 0;
}

std::unique_ptr<SqliteHistoryStore> SimulatedStore(const TempDir& dir, int stations, int days,
                                                   uint64_t seed) {
  const std::string csv = GenerateHistory(dir.path(), stations, days, seed);
  if (csv.empty()) return nullptr;
  SqliteStoreOptions o;
  o.path = dir.File("collector.db");
  auto store = SqliteHistoryStore::Open(o);
  if (!store) return nullptr;
  if (!ImportHistory(**store, csv)) return nullptr;
  return std::move(*store);
}

TrainingConfig SmallTrainingConfig() {
  TrainingConfig c;
  c.targets = {Variable::kPm25};
  c.horizons_min = {60};
  c.station_models = false;
  c.min_train_rows = 200;
  c.min_validation_rows = 50;
  c.xgb.num_rounds = 30;
  c.xgb.max_depth = 4;
  c.xgb.eta = 0.3;
  c.xgb.early_stopping_rounds = 5;
  c.xgb.nthread = 1;
  c.schedule_interval_s = 0;
  return c;
}

std::optional<JobStatus> WaitForJob(TrainingJobs& jobs, const std::string& id,
                                    std::chrono::milliseconds timeout) {
  std::optional<JobStatus> last;
  WaitFor(
      [&] {
        last = jobs.Get(id);
        return last && (last->state == JobState::kSucceeded || last->state == JobState::kFailed);
      },
      timeout);
  return last;
}

ServedModel::~ServedModel() {
  if (collector_) collector_->Stop();
}

std::unique_ptr<ServedModel> ServedModel::Start(const ServedModelOptions& options,
                                                std::string* error) {
  std::unique_ptr<ServedModel> s(new ServedModel());
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return nullptr;
  };
  CollectorConfig& c = s->config_;
  c.db_path = s->dir_.File("collector.db");
  c.mqtt.uri = options.broker_uri;
  c.mqtt.topic_prefix = options.topic_prefix;
  c.mqtt.client_id = "collector-fixture-" + std::to_string(FreeLoopbackPort());
  c.http.listen = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  c.http.tokens = {{"fixture-viewer", TokenAuth::HashToken(kFixtureViewerToken), Role::kViewer},
                   {"fixture-scientist", TokenAuth::HashToken(kFixtureScientistToken),
                    Role::kDataScientist},
                   {"fixture-admin", TokenAuth::HashToken(kFixtureAdminToken), Role::kAdmin}};
  c.ingest.clock_tolerance_s = 1000000000;
  c.training = SmallTrainingConfig();
  c.models.public_url = "http://" + c.http.listen;
  c.models.min_live_samples = options.min_live_samples;
  c.models.rollout_check_interval_s = options.rollout_check_interval_s;
  if (options.configure) options.configure(c);
  {
    const std::string csv = GenerateHistory(s->dir_.path(), options.stations, options.days);
    if (csv.empty()) return fail("simulator failed");
    SqliteStoreOptions o;
    o.path = c.db_path;
    auto store = SqliteHistoryStore::Open(o);
    if (!store) return fail("store: " + store.message());
    if (!ImportHistory(**store, csv)) return fail("import failed");
  }
  s->collector_ = std::make_unique<Collector>(c);
  if (Status st = s->collector_->Start(); !st) return fail("collector: " + st.message());
  TrainingService& models = *s->collector_->models();
  TrainRequest req;
  req.station_models = false;
  auto id = models.jobs().Submit(req, TriggerInfo{"manual", "fixture", ""});
  if (!id) return fail("submit: " + id.message());
  auto job = WaitForJob(models.jobs(), *id, std::chrono::seconds(120));
  if (!job || job->state != JobState::kSucceeded) {
    return fail("training job: " + (job ? job->message : std::string("timed out")));
  }
  for (int64_t v : job->versions) {
    auto rec = models.registry().Get(v);
    if (rec && *rec && (*rec)->family.kind == "network") s->version = v;
  }
  if (s->version == 0) return fail("no network model registered");
  auto promoted = models.api().Promote(s->version, options.stage, options.rollout_stations,
                                       "fixture", "fixture promotion");
  if (!promoted) return fail("promote: " + promoted.message());
  auto manifest = models.distributor().LatestManifest(s->version);
  if (!manifest) return fail("not announced");
  s->manifest = *manifest;
  s->public_key = models.distributor().public_key();
  s->public_key_path = ResolveModelsPaths(c.models, c.db_path).public_key;
  auto bytes = models.registry().ReadArtifact(s->version);
  if (!bytes) return fail("artifact: " + bytes.message());
  s->artifact = *bytes;
  return s;
}

}  // namespace sentinelle::testing
