// Regressions found by fuzz_http_request, asserted on the response.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "http_harness.h"

namespace sentinelle::fuzz {
namespace {

// A CSV import whose malformed field is not UTF-8: the error message quotes
// the field, and serialising it threw from nlohmann's dump(), which turned a
// client error into "500 internal error" (and ended the fuzz harness).
// Corpus: fuzz/corpus/http_request/crash-import-error-not-utf8.
TEST(HttpRegressTest, ImportErrorQuotingNonUtf8BytesIsA400WithJsonBody) {
  std::string input = "POST\n/api/v1/import\n\nBearer fuzz-admin-token\n\n";
  input += "station_id,ts,temperature_c,humidity_pct,pressure_hpa,wind_speed_ms,wind_dir_deg,"
           "rain_mm,pm25,pm10,no2,o3,so2,co\n";
  input += "st-1,2026-01-01T00:05:00Z,27.41,84.2,1011.3,2.1,\xd2""05,0,31.5,58.2,38.9,21.4,6.1,0.62\n";
  const auto resp = HandleHttpInput(input);
  EXPECT_EQ(resp.status, 400);
  const auto body = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(body.is_discarded()) << resp.body;
  EXPECT_NE(body.value("error", "").find("line 2"), std::string::npos) << resp.body;
}

// The harness reaches the registry and monitor endpoints with real records
// (a trained production model and its linear fallback), not 404s or 503s
// from absent services; otherwise fuzzing them would test nothing.
TEST(HttpHarnessTest, RegistryAndMonitorEndpointsAnswerFromRealRecords) {
  const auto list = HandleHttpInput("GET\n/api/v1/models\n\nBearer fuzz-viewer-token\n\n");
  ASSERT_EQ(list.status, 200) << list.body;
  const auto models = nlohmann::json::parse(list.body);
  ASSERT_GE(models.at("models").size(), 2u) << list.body;
  const int64_t version = models["models"][0].at("version").get<int64_t>();
  const std::string v = std::to_string(version);

  const auto artifact = HandleHttpInput("GET\n/api/v1/models/" + v +
                                        "/artifact\n\nBearer fuzz-viewer-token\nbytes=10-\n");
  EXPECT_EQ(artifact.status, 206);
  EXPECT_NE(artifact.extra_headers.find("Content-Range: bytes 10-"), std::string::npos);

  const auto refused = HandleHttpInput("POST\n/api/v1/models/" + v +
                                       "/promote\n\nBearer fuzz-viewer-token\n\n"
                                       "{\"stage\":\"production\"}");
  EXPECT_EQ(refused.status, 403) << refused.body;
  const auto no_token =
      HandleHttpInput("POST\n/api/v1/models/rollback\n\n\n\n{\"target\":\"pm25\"}");
  EXPECT_EQ(no_token.status, 401) << no_token.body;

  const auto report =
      HandleHttpInput("GET\n/api/v1/report\nformat=html\nBearer fuzz-viewer-token\n\n");
  EXPECT_EQ(report.status, 200) << report.body.substr(0, 200);
  EXPECT_EQ(report.content_type.rfind("text/html", 0), 0u) << report.content_type;
}

// Found by fuzz_http_request once the registry was in the harness: POST train
// requests queue jobs (the harness runs no worker), and past
// training.max_queued_jobs (8) the answer is the documented 503, never an
// unbounded queue. The harness accepts this one 5xx and no other.
TEST(HttpHarnessTest, TrainingQueueIsBoundedAndAFullQueueAnswers503) {
  const std::string train = "POST\n/api/v1/train\n\nBearer fuzz-scientist-token\n\n{}";
  int accepted = 0;
  collector::HttpResponse last;
  for (int i = 0; i < 20; ++i) {
    last = HandleHttpInput(train);
    if (last.status == 202) ++accepted;
    if (last.status != 202) break;
  }
  EXPECT_LE(accepted, 8);
  EXPECT_EQ(last.status, 503) << last.body;
  EXPECT_NE(last.body.find("training queue full"), std::string::npos) << last.body;
  const auto jobs = HandleHttpInput("GET\n/api/v1/jobs\n\nBearer fuzz-viewer-token\n\n");
  ASSERT_EQ(jobs.status, 200);
  EXPECT_NE(jobs.body.find("queued"), std::string::npos) << jobs.body.substr(0, 300);
}

}  // namespace
}  // namespace sentinelle::fuzz
