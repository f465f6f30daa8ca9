// Strict JSON helpers for decoders of outside data (MQTT payloads, manifests,
// HTTP bodies). Nothing here throws.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sentinelle/result.h"

namespace sentinelle {

// Parses text as JSON, refusing input over max_bytes or nested deeper than
// max_depth before the parser sees it.
Result<nlohmann::json> ParseJsonLimited(std::string_view text, size_t max_bytes, int max_depth);

// Reads fields of one JSON object, recording the first problem. Each getter
// returns a harmless default once an error is recorded, so a decoder reads
// every field and checks ok() once at the end.
class StrictObject {
 public:
  StrictObject(const nlohmann::json& j, std::string path);

  int64_t Int(const char* key, int64_t lo, int64_t hi);
  double Number(const char* key, double lo, double hi);
  // NaN when the field is JSON null.
  double NumberOrNull(const char* key, double lo, double hi);
  std::string Str(const char* key, size_t max_len);
  std::optional<std::string> OptStr(const char* key, size_t max_len);
  bool Bool(const char* key);
  // The raw field, which must exist and be of the given type (null = any).
  const nlohmann::json* Field(const char* key, nlohmann::json::value_t type);
  const nlohmann::json* OptField(const char* key, nlohmann::json::value_t type);
  // Records an error when the object has a key outside `allowed`.
  void OnlyKeys(std::initializer_list<std::string_view> allowed);
  void Fail(const std::string& what);
  void FailField(const char* key, const std::string& what);
  // Takes over a nested object's first error, verbatim.
  void Adopt(const StrictObject& child) {
    if (!error_ && child.error_) error_ = child.error_;
  }

  bool ok() const { return !error_.has_value(); }
  Error error() const { return Error{error_.value_or("")}; }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* Get(const char* key);
  const nlohmann::json& j_;
  std::string path_;
  std::optional<std::string> error_;
};

}  // namespace sentinelle
