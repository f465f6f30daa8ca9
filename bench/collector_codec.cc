// Reading batch decoding, the collector's per-message CPU cost: the DOM
// decoder (nlohmann parse + strict field walk, the reference) against the
// single-pass fast path, on the same encoder-produced payloads in one run.
//
//   collector_codec_bench [--benchmark_min_time=0.5]
// Items are readings: items_per_second is readings decoded per second on
// one core.
#include <benchmark/benchmark.h>

#include <string>

#include "sentinelle/aqi.h"
#include "sentinelle/codec.h"

namespace {

using namespace sentinelle;

std::string Payload(int readings) {
  ReadingBatch b;
  b.station_id = "bench-17";
  for (int k = 0; k < readings; ++k) {
    Reading r;
    r.station_id = b.station_id;
    r.seq = k + 1;
    r.window_end_s = 1767225600 + 300 * r.seq;
    r.boot_id = "0f3c9a1e5b7d4c2a";
    r.time = {true, "ntp"};
    for (const auto& info : Variables()) {
      const int i = static_cast<int>(info.variable);
      r.values[i] = info.min + (info.max - info.min) * 0.001 * ((k * 7 + i * 13) % 400 + 0.37);
      r.qc[i] = QcFlag::kOk;
      r.samples[i] = 30;
    }
    if (auto a = ComputeAqi(r)) {
      r.aqi = a->aqi;
      r.aqi_dominant = a->dominant;
    }
    b.readings.push_back(r);
  }
  return EncodeReadingBatch(b);
}

void BM_DecodeDom(benchmark::State& state) {
  const std::string p = Payload(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto r = detail::DecodeReadingBatchDom(p, "bench-17");
    if (!r) state.SkipWithError(r.message().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(p.size()));
}
BENCHMARK(BM_DecodeDom)->Arg(1)->Arg(50)->Arg(500);

void BM_DecodeFast(benchmark::State& state) {
  const std::string p = Payload(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto r = DecodeReadingBatch(p, "bench-17");  // what ingest calls
    if (!r) state.SkipWithError(r.message().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(p.size()));
}
BENCHMARK(BM_DecodeFast)->Arg(1)->Arg(50)->Arg(500);

// A rejected payload costs a failed fast attempt plus the DOM decoder.
void BM_DecodeRejected(benchmark::State& state) {
  std::string p = Payload(static_cast<int>(state.range(0)));
  p.replace(p.rfind("\"seq\":"), 6, "\"seq\":\"1\",\"x\":");
  for (auto _ : state) {
    auto r = DecodeReadingBatch(p, "bench-17");
    if (r) state.SkipWithError("accepted");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeRejected)->Arg(50);

}  // namespace

BENCHMARK_MAIN();
