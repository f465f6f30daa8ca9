#include "sentinelle/config.h"

#include <fstream>
#include <sstream>

namespace sentinelle {

using nlohmann::json;

ConfigReader::ConfigReader(json root, std::string source)
    : root_(std::move(root)), source_(std::move(source)) {
  if (!root_.is_object()) throw ConfigError(source_ + ": top level must be a JSON object");
}

ConfigReader ConfigReader::FromString(const std::string& text, std::string source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (j.is_discarded()) {
    // Re-parse with exceptions to get the position of the error. A syntax
    // error throws parse_error, a number too large for a double out_of_range:
    // both are bad input.
    try {
      json ignored = json::parse(text, nullptr, true, true);
      (void)ignored;
    } catch (const json::exception& e) {
      throw ConfigError(source + ": invalid JSON: " + e.what());
    }
    throw ConfigError(source + ": invalid JSON");
  }
  return ConfigReader(std::move(j), std::move(source));
}

ConfigReader ConfigReader::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return FromString(ss.str(), path);
}

const json* ConfigReader::Find(const std::string& key) const {
  const json* cur = &root_;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

bool ConfigReader::Has(const std::string& key) const { return Find(key) != nullptr; }

const json* ConfigReader::Raw(const std::string& key) {
  read_.insert(key);
  return Find(key);
}

void ConfigReader::Fail(const std::string& key, const std::string& what) const {
  throw ConfigError(source_ + ": key '" + key + "' " + what);
}

namespace {
const char* TypeName(const json& j) { return j.type_name(); }

void CollectLeaves(const json& j, const std::string& prefix, std::vector<std::string>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      CollectLeaves(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
  } else {
    out.push_back(prefix);
  }
}
}  // namespace

template <>
bool ConfigReader::Convert<bool>(const std::string& key, const json& j) const {
  if (!j.is_boolean()) Fail(key, std::string("must be a boolean, got ") + TypeName(j));
  return j.get<bool>();
}
template <>
int ConfigReader::Convert<int>(const std::string& key, const json& j) const {
  if (!j.is_number_integer()) Fail(key, std::string("must be an integer, got ") + TypeName(j));
  const auto v = j.get<int64_t>();
  if (v < INT32_MIN || v > INT32_MAX) Fail(key, "is out of range");
  return static_cast<int>(v);
}
template <>
int64_t ConfigReader::Convert<int64_t>(const std::string& key, const json& j) const {
  if (!j.is_number_integer()) Fail(key, std::string("must be an integer, got ") + TypeName(j));
  return j.get<int64_t>();
}
template <>
double ConfigReader::Convert<double>(const std::string& key, const json& j) const {
  if (!j.is_number()) Fail(key, std::string("must be a number, got ") + TypeName(j));
  return j.get<double>();
}
template <>
std::string ConfigReader::Convert<std::string>(const std::string& key, const json& j) const {
  if (!j.is_string()) Fail(key, std::string("must be a string, got ") + TypeName(j));
  return j.get<std::string>();
}
template <>
std::vector<std::string> ConfigReader::Convert<std::vector<std::string>>(const std::string& key,
                                                                         const json& j) const {
  if (!j.is_array()) Fail(key, std::string("must be an array of strings, got ") + TypeName(j));
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) Fail(key, "must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}
template <>
std::vector<int> ConfigReader::Convert<std::vector<int>>(const std::string& key,
                                                         const json& j) const {
  if (!j.is_array()) Fail(key, std::string("must be an array of integers, got ") + TypeName(j));
  std::vector<int> out;
  for (const auto& e : j) {
    if (!e.is_number_integer()) Fail(key, "must be an array of integers");
    out.push_back(e.get<int>());
  }
  return out;
}

void ConfigReader::RejectUnknown() const {
  std::vector<std::string> leaves;
  CollectLeaves(root_, "", leaves);
  std::string unknown;
  for (const auto& leaf : leaves) {
    if (leaf.empty()) continue;
    // A leaf is known when it, or one of its parents, was read.
    bool known = false;
    std::string k = leaf;
    while (true) {
      if (read_.count(k)) { known = true; break; }
      const size_t dot = k.rfind('.');
      if (dot == std::string::npos) break;
      k.resize(dot);
    }
    if (!known) unknown += (unknown.empty() ? "'" : ", '") + leaf + "'";
  }
  if (!unknown.empty()) throw ConfigError(source_ + ": unknown key(s) " + unknown);
}

}  // namespace sentinelle
