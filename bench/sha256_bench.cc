// SHA-256 of a model-sized input (999,493 bytes, the benchmark bundle's
// model file): the project's portable code (Sha256Hex, what the agent uses
// for every model file it loads) against OpenSSL's SHA256() in the same run.
// docs/PERFORMANCE.md, "Resident memory".
#include <benchmark/benchmark.h>
#include <openssl/sha.h>

#include <string>

#include "sentinelle/crypto.h"

namespace {

std::string ModelSizedInput() {
  std::string s(999493, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

void BM_Sha256HexPortable(benchmark::State& state) {
  const std::string in = ModelSizedInput();
  for (auto _ : state) benchmark::DoNotOptimize(sentinelle::Sha256Hex(in));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Sha256HexPortable)->Unit(benchmark::kMillisecond);

void BM_Sha256OpenSsl(benchmark::State& state) {
  const std::string in = ModelSizedInput();
  unsigned char d[SHA256_DIGEST_LENGTH];
  for (auto _ : state) {
    SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Sha256OpenSsl)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
