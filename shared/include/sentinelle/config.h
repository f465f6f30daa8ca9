// JSON configuration loading with errors that name the offending key.
//
// Usage:
//   ConfigReader r(json);             // or ConfigReader::FromFile(path)
//   int port = r.Get<int>("mqtt.port", 1883);
//   std::string host = r.Require<std::string>("mqtt.host");
//   r.RejectUnknown();                // error for any key never read
// Errors are thrown as ConfigError (configuration is a start-up concern).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace sentinelle {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConfigReader {
 public:
  explicit ConfigReader(nlohmann::json root, std::string source = "<config>");
  static ConfigReader FromFile(const std::string& path);
  static ConfigReader FromString(const std::string& text, std::string source = "<string>");

  // Dotted path lookup ("mqtt.tls.ca_file"). Get returns the default when the
  // key is absent; both throw ConfigError when the type is wrong.
  template <typename T>
  T Get(const std::string& key, T fallback);
  template <typename T>
  T Require(const std::string& key);
  bool Has(const std::string& key) const;
  // Raw sub-tree (marks the whole sub-tree as read).
  const nlohmann::json* Raw(const std::string& key);

  // Throws ConfigError listing every key present in the file but never read.
  void RejectUnknown() const;
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json* Find(const std::string& key) const;
  [[noreturn]] void Fail(const std::string& key, const std::string& what) const;
  template <typename T>
  T Convert(const std::string& key, const nlohmann::json& j) const;

  nlohmann::json root_;
  std::string source_;
  std::set<std::string> read_;
};

template <typename T>
T ConfigReader::Get(const std::string& key, T fallback) {
  read_.insert(key);
  const nlohmann::json* j = Find(key);
  if (j == nullptr) return fallback;
  return Convert<T>(key, *j);
}

template <typename T>
T ConfigReader::Require(const std::string& key) {
  read_.insert(key);
  const nlohmann::json* j = Find(key);
  if (j == nullptr) Fail(key, "is required but missing");
  return Convert<T>(key, *j);
}

}  // namespace sentinelle
