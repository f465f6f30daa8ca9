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

}  // namespace
}  // namespace sentinelle::fuzz
