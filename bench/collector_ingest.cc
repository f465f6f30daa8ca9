// Sustained ingest: N simulated stations publish reading batches over MQTT
// (QoS 1) to a real Mosquitto; the collector (in-process, SQLite WAL in a
// temp dir) validates, stores and acks them. Reports readings/s from the
// first publish to the last commit, and the publish -> ack latency of each
// batch (the ack is sent after the commit, so this bounds publish -> commit
// from above), plus the collector's own arrival -> commit histogram.
//
//   collector_ingest_bench [--stations 1000] [--connections 50] [--batch 50]
//                          [--batches 20] [--inflight 10] [--rate 0] [--decoder fast|dom]
// --rate R paces the publishers at R readings/s in total (0: as fast as they
// can, which measures capacity; a rate below capacity measures latency
// without a backlog). --decoder dom makes the collector decode reading
// batches with the DOM reference only (the decoder before the fast path), to
// compare both in one session.
#include <mqtt/async_client.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker.h"
#include "process.h"
#include "sentinelle/aqi.h"
#include "sentinelle/codec.h"
#include "sentinelle/collector/collector.h"
#include "sentinelle/log.h"
#include "sentinelle/topics.h"

using namespace sentinelle;
using Clock = std::chrono::steady_clock;

namespace {

Reading MakeReading(const std::string& station, int64_t seq, int64_t end_s) {
  Reading r;
  r.station_id = station;
  r.seq = seq;
  r.window_end_s = end_s;
  r.boot_id = "bench";
  r.time = TimeQuality{true, "ntp"};
  for (const auto& info : Variables()) {
    const int i = static_cast<int>(info.variable);
    r.values[i] = info.min + (info.max - info.min) * 0.001 * static_cast<double>((seq * 7 + i) % 400);
    r.qc[i] = QcFlag::kOk;
    r.samples[i] = 30;
  }
  if (auto a = ComputeAqi(r)) {
    r.aqi = a->aqi;
    r.aqi_dominant = a->dominant;
  }
  return r;
}

struct Batch {
  int station = 0;
  int64_t last_seq = 0;
  std::string topic;
  std::string payload;
  Clock::time_point published;
  Clock::time_point acked;
};

int Arg(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const int stations = Arg(argc, argv, "--stations", 1000);
  const int connections = std::min(stations, Arg(argc, argv, "--connections", 50));
  const int batch = Arg(argc, argv, "--batch", 50);
  const int batches = Arg(argc, argv, "--batches", 20);
  const int inflight = Arg(argc, argv, "--inflight", 10);
  const int rate = Arg(argc, argv, "--rate", 0);
  bool dom_decoder = false;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--decoder") == 0) dom_decoder = std::strcmp(argv[i + 1], "dom") == 0;
  }
  detail::TEST_SetReadingBatchDomOnly(dom_decoder);
  SetupLogging({"warn", false, "bench"});

  testing::MosquittoBroker broker({false, ""});
  if (!broker.Start()) {
    std::fprintf(stderr, "mosquitto did not start:\n%s\n", broker.Log().c_str());
    return 1;
  }
  testing::TempDir dir;
  collector::CollectorConfig config;
  config.db_path = dir.File("bench.db");
  config.mqtt.uri = broker.uri();
  config.mqtt.client_id = "bench-collector";
  config.http.enabled = false;
  config.gaps.grace_s = 3600;  // the bench publishes in seq order per station
  config.ingest.clock_tolerance_s = 1 << 30;
  collector::Collector coll(config);
  if (auto st = coll.Start(); !st) {
    std::fprintf(stderr, "collector: %s\n", st.message().c_str());
    return 1;
  }
  while (coll.metrics().mqtt_connected->Value() != 1) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // subscription in place

  // Pre-encode every payload: the bench measures the collector, not the encoder.
  Topics topics;
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t base = (now_s - int64_t{batch} * batches * 300 - 3600) / 300 * 300;
  std::vector<Batch> all;
  all.reserve(static_cast<size_t>(stations) * batches);
  size_t bytes = 0;
  for (int b = 0; b < batches; ++b) {
    for (int s = 0; s < stations; ++s) {
      ReadingBatch rb;
      rb.station_id = "bench-" + std::to_string(s);
      for (int k = 0; k < batch; ++k) {
        const int64_t seq = int64_t{b} * batch + k + 1;
        rb.readings.push_back(MakeReading(rb.station_id, seq, base + seq * 300));
      }
      Batch x;
      x.station = s;
      x.last_seq = int64_t{b + 1} * batch;
      x.topic = topics.Readings(rb.station_id);
      x.payload = EncodeReadingBatch(rb);
      bytes += x.payload.size();
      all.push_back(std::move(x));
    }
  }
  const int64_t total = int64_t{stations} * batch * batches;
  std::printf("decoder: %s\n", dom_decoder ? "DOM reference only" : "fast path");
  std::printf("stations %d over %d connections, %d readings/batch, %d batches/station: "
              "%lld readings, %.1f MB of JSON (%.0f B/reading)\n",
              stations, connections, batch, batches, static_cast<long long>(total),
              static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) / static_cast<double>(total));

  // Ack listener: records when each station's seq was first acknowledged.
  std::mutex ack_mu;
  std::vector<std::map<int64_t, Clock::time_point>> acked_upto(static_cast<size_t>(stations));
  std::vector<int64_t> high(static_cast<size_t>(stations), 0);
  mqtt::async_client listener(broker.uri(), "bench-ack-listener", mqtt::create_options(MQTTVERSION_5));
  listener.set_message_callback([&](mqtt::const_message_ptr m) {
    const auto t = Clock::now();
    auto parsed = topics.ParseStation(m->get_topic());
    if (!parsed) return;
    auto ack = DecodeAck(m->get_payload_str(), parsed->station_id);
    if (!ack) return;
    const int s = std::atoi(parsed->station_id.c_str() + 6);
    std::lock_guard<std::mutex> lock(ack_mu);
    for (const auto& r : ack->committed) {
      if (r.first <= high[s] + 1 && r.last > high[s]) {
        high[s] = r.last;
        acked_upto[s][r.last] = t;
      }
    }
  });
  listener.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).finalize())->wait();
  listener.subscribe(topics.prefix() + "/stations/+/ack", 1)->wait();

  std::vector<std::unique_ptr<mqtt::async_client>> clients;
  for (int c = 0; c < connections; ++c) {
    clients.push_back(std::make_unique<mqtt::async_client>(
        broker.uri(), "bench-pub-" + std::to_string(c),
        mqtt::create_options(MQTTVERSION_5, inflight * 2 + 100)));
    clients.back()
        ->connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).max_inflight(inflight * 2).finalize())
        ->wait();
  }
  const auto t0 = Clock::now();
  const double cpu0 = CpuSeconds();
  // One thread per connection; each keeps at most `inflight` QoS 1 publishes
  // outstanding (paho's C library degrades with long in-flight lists).
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      std::vector<mqtt::delivery_token_ptr> window;
      const double per_thread_rate = static_cast<double>(rate) / connections;
      int64_t sent_readings = 0;
      for (size_t i = 0; i < all.size(); ++i) {
        if (all[i].station % connections != c) continue;
        if (rate > 0) {
          const auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(sent_readings / per_thread_rate));
          std::this_thread::sleep_until(due);
          sent_readings += batch;
        }
        if (static_cast<int>(window.size()) >= inflight) {
          window.front()->wait();
          window.erase(window.begin());
        }
        all[i].published = Clock::now();
        window.push_back(clients[c]->publish(all[i].topic, all[i].payload, 1, false));
      }
      for (auto& t : window) t->wait();
    });
  }
  for (auto& t : threads) t.join();
  const auto t_published = Clock::now();
  while (coll.metrics().readings_stored->Value() < static_cast<double>(total)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (Clock::now() - t0 > std::chrono::minutes(10)) {
      std::fprintf(stderr, "timed out: %.0f of %lld stored\n", coll.metrics().readings_stored->Value(),
                   static_cast<long long>(total));
      return 1;
    }
  }
  const auto t_committed = Clock::now();
  const double cpu = CpuSeconds() - cpu0;
  // Let the last acks arrive.
  for (int i = 0; i < 500; ++i) {
    std::lock_guard<std::mutex> lock(ack_mu);
    bool done = true;
    for (int s = 0; s < stations && done; ++s) done = high[s] >= int64_t{batch} * batches;
    if (done) break;
    ack_mu.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ack_mu.lock();
  }
  std::vector<double> latency_ms;
  {
    std::lock_guard<std::mutex> lock(ack_mu);
    for (const Batch& b : all) {
      auto it = acked_upto[b.station].lower_bound(b.last_seq);
      if (it == acked_upto[b.station].end()) continue;
      latency_ms.push_back(std::chrono::duration<double, std::milli>(it->second - b.published).count());
    }
  }
  const double secs = std::chrono::duration<double>(t_committed - t0).count();
  std::printf("published in %.2f s, all committed after %.2f s: %.0f readings/s (%.0f msgs/s)\n",
              std::chrono::duration<double>(t_published - t0).count(), secs,
              static_cast<double>(total) / secs, static_cast<double>(all.size()) / secs);
  std::printf("publish -> ack (after commit), %zu batches: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              latency_ms.size(), Percentile(latency_ms, 0.5), Percentile(latency_ms, 0.99),
              Percentile(latency_ms, 1.0));
  std::printf("CPU of this process (collector + publishing clients, not mosquitto): %.2f s "
              "= %.1f us/reading; load average during the run shown by `uptime`\n",
              cpu, cpu / static_cast<double>(total) * 1e6);
  auto& m = coll.metrics();
  std::printf("commits %.0f (%.0f readings each on average), duplicates %.0f, acks sent %.0f, "
              "acks coalesced %.0f, rejected queue_full %.0f\n",
              m.commits->Value(), static_cast<double>(total) / std::max(1.0, m.commits->Value()),
              m.readings_duplicate->Value(), m.acks_sent->Value(), m.acks_coalesced->Value(),
              m.rejected(collector::RejectReason::kQueueFull).Value());
  coll.Stop();
  for (auto& c : clients) c->disconnect()->wait();
  listener.disconnect()->wait();
  return 0;
}
