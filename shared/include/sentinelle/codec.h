// Strict JSON codecs for the MQTT payloads (docs/PROTOCOL.md).
//
// Decoders never throw: anything malformed, oversized, too deep, of the wrong
// type, out of range or from the wrong station comes back as an Error whose
// message names the field. Encoders produce exactly what decoders accept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle {

inline constexpr int kSchemaVersion = 1;
inline constexpr size_t kMaxPayloadBytes = 1 << 20;  // 1 MiB
inline constexpr int kMaxJsonDepth = 16;
inline constexpr size_t kMaxReadingsPerBatch = 1000;

// Live readings are the freshest windows; replay is backlog sent after an
// outage or on a backfill request. Subscribers showing "the latest value"
// must ignore replay.
enum class DeliveryKind { kLive, kReplay };
std::string_view DeliveryKindName(DeliveryKind k);

struct ReadingBatch {
  std::string station_id;
  DeliveryKind kind = DeliveryKind::kLive;
  std::vector<Reading> readings;
};

std::string EncodeReadingBatch(const ReadingBatch& batch);
// expected_station: the id taken from the topic; the payload must match it.
// Thread-safe.
Result<ReadingBatch> DecodeReadingBatch(std::string_view payload,
                                        std::string_view expected_station);

// End-to-end acknowledgement, collector -> agent, sent only after commit.
struct SeqRange {
  int64_t first = 0;
  int64_t last = 0;  // inclusive
  bool operator==(const SeqRange&) const = default;
};
struct Ack {
  std::string station_id;
  std::vector<SeqRange> committed;
};
std::string EncodeAck(const Ack& ack);
Result<Ack> DecodeAck(std::string_view payload, std::string_view expected_station);
// Compresses sorted or unsorted sequence numbers into inclusive ranges.
std::vector<SeqRange> ToRanges(std::vector<int64_t> seqs);

// Retained status: birth on connect, last will "offline", periodic updates.
struct ModelVersionInfo {
  std::string target;
  int horizon_min = 0;
  std::string kind;     // "station", "network", "linear", "persistence"
  std::string version;
  bool operator==(const ModelVersionInfo&) const = default;
};
struct StationStatus {
  std::string station_id;
  std::string state;      // "online" | "offline"
  std::string agent_version;
  std::string boot_id;
  int64_t ts_s = 0;       // when the status was produced (0 in the last will)
  int64_t buffer_depth = 0;   // unconfirmed readings in the outbox
  int64_t last_seq = 0;
  TimeQuality time;
  std::vector<ModelVersionInfo> models;
};
std::string EncodeStatus(const StationStatus& status);
Result<StationStatus> DecodeStatus(std::string_view payload, std::string_view expected_station);

// Collector -> one agent.
struct Command {
  std::string station_id;
  std::string id;         // command id, echoed in logs
  std::string name;       // "backfill", "resync", "rollback"
  int64_t from_seq = 0;   // backfill range (inclusive)
  int64_t to_seq = 0;
  std::string target;     // rollback: target/horizon
  int horizon_min = 0;
};
std::string EncodeCommand(const Command& command);
Result<Command> DecodeCommand(std::string_view payload, std::string_view expected_station);

// Parses a payload as JSON with size and depth limits. Shared by every
// decoder of outside data.
namespace detail {
struct JsonLimits {
  size_t max_bytes = kMaxPayloadBytes;
  int max_depth = kMaxJsonDepth;
};

// DecodeReadingBatch is two decoders with one contract. The fast one makes a
// single pass over the bytes without building a DOM and answers only for
// plain valid batches (what EncodeReadingBatch writes); it returns nullopt
// for anything else, which then goes to the DOM decoder, the reference that
// words every error. A batch the fast path accepts is accepted by the DOM
// decoder with identical values (differential tests).
std::optional<ReadingBatch> DecodeReadingBatchFast(std::string_view payload,
                                                   std::string_view expected_station);
Result<ReadingBatch> DecodeReadingBatchDom(std::string_view payload,
                                           std::string_view expected_station);
// Benchmarks only: true makes DecodeReadingBatch skip the fast path (to
// compare both in one run). Process-wide.
void TEST_SetReadingBatchDomOnly(bool dom_only);
}  // namespace detail

}  // namespace sentinelle
