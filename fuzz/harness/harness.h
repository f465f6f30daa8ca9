// Fuzz harnesses: one entry point per parser of outside data (docs/SECURITY.md,
// "Hostile input"). Each takes arbitrary bytes, runs the parser and, when the
// input is accepted, checks the parser's contract (an accepted payload
// re-encodes to bytes the decoder accepts again, unchanged; a loaded model
// predicts finite-or-NaN values without reading out of bounds, ...).
//
// A harness returns normally for every input, valid or not; a broken contract
// aborts through SENTINELLE_FUZZ_CHECK, which libFuzzer reports as a crash and
// a unit test as a failure. The libFuzzer binaries in fuzz/ call one harness
// each; tests/fuzz_regress replays the committed corpora through all of them
// in the ordinary test suite (no clang needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sentinelle::fuzz {

using Harness = void (*)(std::string_view input);

void SensorLine(std::string_view input);
void ReadingBatch(std::string_view input);
void Ack(std::string_view input);
void Status(std::string_view input);
void Command(std::string_view input);
void PredictionBatch(std::string_view input);
void Manifest(std::string_view input);
void ModelFile(std::string_view input);
void XgbJson(std::string_view input);
void XgbUbjson(std::string_view input);
void AgentConfig(std::string_view input);
void CollectorConfig(std::string_view input);
void HistoryCsv(std::string_view input);
// Input: method, path, query, Authorization, Range on the first five lines
// (an empty line = absent header), the rest is the body. The token
// kFuzzAdminToken is accepted with the admin role.
void HttpRequest(std::string_view input);
inline constexpr std::string_view kFuzzAdminToken = "fuzz-admin-token";

// Name (as in fuzz/corpus/<name>/) to harness; nullptr when unknown.
Harness Find(std::string_view name);
struct Entry {
  const char* name;
  Harness harness;
};
// Every harness, for the regression replay.
const Entry* begin();
const Entry* end();

[[noreturn]] void Fail(const char* file, int line, const char* what);

}  // namespace sentinelle::fuzz

#define SENTINELLE_FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::sentinelle::fuzz::Fail(__FILE__, __LINE__, #cond))
