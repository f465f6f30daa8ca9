#include "sentinelle/json_util.h"

#include <cmath>

namespace sentinelle {

using nlohmann::json;

Result<json> ParseJsonLimited(std::string_view text, size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes) {
    return MakeError("payload of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                     std::to_string(max_bytes));
  }
  // Depth pre-scan outside strings: nlohmann's parser is recursive.
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return MakeError("JSON nested deeper than " + std::to_string(max_depth) + " levels");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError("malformed JSON");
  return j;
}

StrictObject::StrictObject(const json& j, std::string path) : j_(j), path_(std::move(path)) {
  if (!j_.is_object()) Fail("must be a JSON object");
}

void StrictObject::Fail(const std::string& what) {
  if (!error_) error_ = path_ + ": " + what;
}

void StrictObject::FailField(const char* key, const std::string& what) {
  if (!error_) error_ = path_ + "." + key + ": " + what;
}

const json* StrictObject::Get(const char* key) {
  if (error_ || !j_.is_object()) return nullptr;
  auto it = j_.find(key);
  if (it == j_.end()) {
    FailField(key, "missing");
    return nullptr;
  }
  return &*it;
}

int64_t StrictObject::Int(const char* key, int64_t lo, int64_t hi) {
  const json* f = Get(key);
  if (!f) return lo;
  if (!f->is_number_integer()) {
    FailField(key, std::string("must be an integer, got ") + f->type_name());
    return lo;
  }
  int64_t v;
  if (f->is_number_unsigned()) {
    const uint64_t u = f->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      FailField(key, "out of range");
      return lo;
    }
    v = static_cast<int64_t>(u);
  } else {
    v = f->get<int64_t>();
  }
  if (v < lo || v > hi) {
    FailField(key, "value " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " +
                       std::to_string(hi) + "]");
    return lo;
  }
  return v;
}

double StrictObject::Number(const char* key, double lo, double hi) {
  const json* f = Get(key);
  if (!f) return lo;
  if (!f->is_number()) {
    FailField(key, std::string("must be a number, got ") + f->type_name());
    return lo;
  }
  const double v = f->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    FailField(key, "value outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return lo;
  }
  return v;
}

double StrictObject::NumberOrNull(const char* key, double lo, double hi) {
  const json* f = Get(key);
  if (!f) return NAN;
  if (f->is_null()) return NAN;
  return Number(key, lo, hi);
}

std::string StrictObject::Str(const char* key, size_t max_len) {
  const json* f = Get(key);
  if (!f) return {};
  if (!f->is_string()) {
    FailField(key, std::string("must be a string, got ") + f->type_name());
    return {};
  }
  const auto& s = f->get_ref<const std::string&>();
  if (s.size() > max_len) {
    FailField(key, "longer than " + std::to_string(max_len) + " characters");
    return {};
  }
  return s;
}

std::optional<std::string> StrictObject::OptStr(const char* key, size_t max_len) {
  if (error_ || !j_.is_object() || !j_.contains(key) || j_.at(key).is_null()) return std::nullopt;
  return Str(key, max_len);
}

bool StrictObject::Bool(const char* key) {
  const json* f = Get(key);
  if (!f) return false;
  if (!f->is_boolean()) {
    FailField(key, std::string("must be a boolean, got ") + f->type_name());
    return false;
  }
  return f->get<bool>();
}

const json* StrictObject::Field(const char* key, json::value_t type) {
  const json* f = Get(key);
  if (!f) return nullptr;
  if (type != json::value_t::null && f->type() != type &&
      !(type == json::value_t::number_integer && f->is_number_integer()) &&
      !(type == json::value_t::number_float && f->is_number())) {
    FailField(key, std::string("has the wrong type ") + f->type_name());
    return nullptr;
  }
  return f;
}

const json* StrictObject::OptField(const char* key, json::value_t type) {
  if (error_ || !j_.is_object() || !j_.contains(key)) return nullptr;
  return Field(key, type);
}

void StrictObject::OnlyKeys(std::initializer_list<std::string_view> allowed) {
  if (error_ || !j_.is_object()) return;
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    bool found = false;
    for (auto a : allowed) found = found || a == it.key();
    if (!found) {
      Fail("unknown field '" + it.key().substr(0, 64) + "'");
      return;
    }
  }
}

}  // namespace sentinelle
