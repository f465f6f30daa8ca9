// Fast path of DecodeReadingBatch: one pass over the bytes, no DOM.
//
// It recognizes only the plain form of a valid batch (the form encoders
// produce) and answers "not mine" for anything else: malformed JSON, a
// missing, unknown or repeated key, a value of the wrong type or out of
// range, a string with escapes or non-ASCII bytes, a negative or very long
// integer, a number strtod/from_chars would over- or underflow on. The DOM
// decoder then decides, so every rejection keeps its exact reason, and the
// few unusual-but-valid payloads still decode. What the fast path accepts,
// the DOM decoder accepts with the same values (codec differential tests).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "sentinelle/codec.h"
#include "sentinelle/topics.h"

namespace sentinelle::detail {

namespace {

constexpr int64_t kMaxSeq = int64_t{1} << 53;  // as in codec.cc
constexpr size_t kMaxIdLen = 64;

class Scanner {
 public:
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void SkipWs() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool AtEnd() {
    SkipWs();
    return p_ == end_;
  }
  bool Consume(char c) {
    SkipWs();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // Peeks the next non-blank character (0 at the end).
  char Peek() {
    SkipWs();
    return p_ < end_ ? *p_ : '\0';
  }
  bool Literal(std::string_view word) {
    SkipWs();
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return false;
    }
    p_ += word.size();
    return true;
  }
  // A string of printable ASCII without escapes.
  bool String(std::string_view* out) {
    SkipWs();
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = ++p_;
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x80 || c == '\\') return false;
      ++p_;
    }
    return false;
  }
  // "key": (the key plain as above).
  bool Key(std::string_view* key) { return String(key) && Consume(':'); }
  // A JSON number token; is_int when it has no fraction and no exponent.
  bool Number(std::string_view* token, bool* is_int) {
    SkipWs();
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (p_ < end_ && *p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    } else {
      return false;
    }
    *is_int = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!Digits()) return false;
      *is_int = false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!Digits()) return false;
      *is_int = false;
    }
    *token = std::string_view(start, static_cast<size_t>(p_ - start));
    return true;
  }
  // A non-negative integer of at most 18 digits within [lo, hi]. Anything
  // else (negative zero included) is left to the DOM decoder.
  bool Int(int64_t lo, int64_t hi, int64_t* out) {
    std::string_view token;
    bool is_int = false;
    if (!Number(&token, &is_int) || !is_int || token[0] == '-' || token.size() > 18) return false;
    int64_t v = 0;
    for (char c : token) v = v * 10 + (c - '0');
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
  }
  // A finite number within [lo, hi], converted as nlohmann's parser does:
  // integers exactly then to double, the rest correctly rounded.
  bool Double(double lo, double hi, double* out) {
    std::string_view token;
    bool is_int = false;
    if (!Number(&token, &is_int)) return false;
    double v;
    const bool negative = token[0] == '-';
    if (is_int && token.size() - (negative ? 1 : 0) <= 18) {
      int64_t i = 0;
      for (char c : token.substr(negative ? 1 : 0)) i = i * 10 + (c - '0');
      v = static_cast<double>(negative ? -i : i);  // "-0" is integer 0, i.e. +0.0
    } else {
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
      if (ec != std::errc() || ptr != token.data() + token.size()) return false;
    }
    if (!std::isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
  }

 private:
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  bool Digits() {
    const char* start = p_;
    while (p_ < end_ && IsDigit(*p_)) ++p_;
    return p_ > start;
  }

  const char* p_;
  const char* end_;
};

// Iterates the members of an object: calls member(key) for each, which must
// consume the value. False on any syntax problem or when member says no.
template <typename F>
bool Members(Scanner& s, F&& member) {
  if (!s.Consume('{')) return false;
  if (s.Consume('}')) return true;
  do {
    std::string_view key;
    if (!s.Key(&key) || !member(key)) return false;
  } while (s.Consume(','));
  return s.Consume('}');
}

// Sets bit `bit` in seen; false when it was already set (a repeated key).
bool Once(uint32_t* seen, int bit) {
  const uint32_t m = uint32_t{1} << bit;
  if (*seen & m) return false;
  *seen |= m;
  return true;
}

int VariableIndex(std::string_view name) {
  for (const auto& info : Variables()) {
    if (info.name.size() == name.size() && info.name == name) {
      return static_cast<int>(info.variable);
    }
  }
  return -1;
}

bool DecodeVariable(Scanner& s, const VariableInfo& info, Reading* r) {
  const int i = static_cast<int>(info.variable);
  uint32_t seen = 0;
  std::optional<QcFlag> flag;
  int64_t n = 0;
  // The value comes before or after its flag; its range depends on the flag.
  Scanner value_at = s;
  bool has_value = false;
  bool ok = Members(s, [&](std::string_view key) {
    if (key == "qc") {
      std::string_view qc;
      if (!Once(&seen, 0) || !s.String(&qc) || qc.size() > 16) return false;
      flag = QcFlagFromName(qc);
      return flag.has_value();
    }
    if (key == "n") return Once(&seen, 1) && s.Int(0, 65535, &n);
    if (key == "v") {
      if (!Once(&seen, 2)) return false;
      value_at = s;
      has_value = true;
      // Skip the token now; read it once the flag is known.
      if (s.Literal("null")) return true;
      std::string_view token;
      bool is_int;
      return s.Number(&token, &is_int);
    }
    return false;
  });
  if (!ok || seen != 7 || !has_value) return false;
  double v;
  if (*flag == QcFlag::kOk) {
    if (!value_at.Double(info.min, info.max, &v)) return false;
  } else if (value_at.Literal("null")) {
    v = kMissingValue;
  } else if (!value_at.Double(-1e9, 1e9, &v)) {
    return false;
  }
  r->values[i] = v;
  r->qc[i] = *flag;
  r->samples[i] = static_cast<uint16_t>(n);
  return true;
}

bool DecodeTimeQuality(Scanner& s, TimeQuality* t) {
  uint32_t seen = 0;
  bool ok = Members(s, [&](std::string_view key) {
    if (key == "synced") {
      if (!Once(&seen, 0)) return false;
      if (s.Literal("true")) t->synced = true;
      else if (s.Literal("false")) t->synced = false;
      else return false;
      return true;
    }
    if (key == "source") {
      std::string_view src;
      if (!Once(&seen, 1) || !s.String(&src) || src.size() > 16) return false;
      t->source = std::string(src);
      return true;
    }
    return false;
  });
  return ok && seen == 3;
}

enum ReadingKey { kSeq, kBootId, kWindowEnd, kIntervalS, kTime, kValues, kAqi, kAqiDominant };

bool DecodeOneReading(Scanner& s, Reading* r) {
  uint32_t seen = 0;
  std::string_view window_end;
  int64_t interval_s = 0;
  bool ok = Members(s, [&](std::string_view key) {
    switch (key.size()) {
      case 3:
        if (key == "seq") return Once(&seen, kSeq) && s.Int(1, kMaxSeq, &r->seq);
        if (key == "aqi") {
          if (!Once(&seen, kAqi)) return false;
          if (s.Literal("null")) return true;
          int64_t a;
          if (!s.Int(0, 500, &a)) return false;
          r->aqi = static_cast<int>(a);
          return true;
        }
        return false;
      case 4:
        if (key == "time") return Once(&seen, kTime) && DecodeTimeQuality(s, &r->time);
        return false;
      case 6:
        if (key == "values") {
          if (!Once(&seen, kValues)) return false;
          uint32_t vars = 0;
          const bool vok = Members(s, [&](std::string_view name) {
            const int i = VariableIndex(name);
            return i >= 0 && Once(&vars, i) && DecodeVariable(s, Variables()[i], r);
          });
          return vok && vars == (uint32_t{1} << kVariableCount) - 1;
        }
        return false;
      case 7:
        if (key == "boot_id") {
          std::string_view id;
          if (!Once(&seen, kBootId) || !s.String(&id) || id.size() > kMaxIdLen) return false;
          r->boot_id = std::string(id);
          return true;
        }
        return false;
      case 10:
        if (key == "window_end") {
          return Once(&seen, kWindowEnd) && s.String(&window_end) && window_end.size() <= 32;
        }
        if (key == "interval_s") return Once(&seen, kIntervalS) && s.Int(10, 86400, &interval_s);
        return false;
      case 12:
        if (key == "aqi_dominant") {
          if (!Once(&seen, kAqiDominant)) return false;
          if (s.Literal("null")) return true;
          std::string_view dom;
          if (!s.String(&dom) || dom.size() > 16) return false;
          auto v = VariableFromName(dom);
          if (!v || !IsPollutant(*v)) return false;
          r->aqi_dominant = v;
          return true;
        }
        return false;
      default:
        return false;
    }
  });
  // aqi_dominant alone may be absent (it reads as null).
  const uint32_t required = (1u << kAqiDominant) - 1;
  if (!ok || (seen & required) != required) return false;
  if (r->aqi.has_value() != r->aqi_dominant.has_value()) return false;
  r->interval_s = static_cast<int32_t>(interval_s);
  auto t = ParseUtc(window_end);
  if (!t || *t % interval_s != 0) return false;
  r->window_end_s = *t;
  return true;
}

}  // namespace

std::optional<ReadingBatch> DecodeReadingBatchFast(std::string_view payload,
                                                   std::string_view expected_station) {
  if (payload.size() > kMaxPayloadBytes) return std::nullopt;
  Scanner s(payload);
  ReadingBatch batch;
  uint32_t seen = 0;
  bool ok = Members(s, [&](std::string_view key) {
    if (key == "schema") {
      int64_t v;
      return Once(&seen, 0) && s.Int(kSchemaVersion, kSchemaVersion, &v);
    }
    if (key == "station") {
      std::string_view id;
      if (!Once(&seen, 1) || !s.String(&id) || id.size() > kMaxIdLen || !IsValidStationId(id) ||
          id != expected_station) {
        return false;
      }
      batch.station_id = std::string(id);
      return true;
    }
    if (key == "kind") {
      if (!Once(&seen, 2)) return false;
      if (s.Literal("\"live\"")) batch.kind = DeliveryKind::kLive;
      else if (s.Literal("\"replay\"")) batch.kind = DeliveryKind::kReplay;
      else return false;
      return true;
    }
    if (key == "readings") {
      if (!Once(&seen, 3) || !s.Consume('[')) return false;
      if (s.Peek() == ']') return false;  // empty: the DOM decoder says why
      batch.readings.reserve(std::min<size_t>(kMaxReadingsPerBatch, payload.size() / 512 + 1));
      do {
        if (batch.readings.size() == kMaxReadingsPerBatch) return false;
        batch.readings.emplace_back();
        if (!DecodeOneReading(s, &batch.readings.back())) return false;
      } while (s.Consume(','));
      return s.Consume(']');
    }
    return false;
  });
  if (!ok || seen != 15 || !s.AtEnd()) return std::nullopt;
  // Encoders sort keys, so the station usually follows the readings.
  for (Reading& r : batch.readings) r.station_id = batch.station_id;
  return batch;
}

}  // namespace sentinelle::detail
