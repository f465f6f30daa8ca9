// Fixtures for the model updater's tests: real XGBoost models trained here
// (libxgboost on a synthetic station history), real Ed25519-signed manifests,
// and a real HTTP server (civetweb) on loopback serving the artifacts with
// bearer-token checks and Range support, like the collector's endpoint.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "sentinelle/manifest.h"
#include "sentinelle/predict/model_file.h"

struct mg_context;

namespace sentinelle::agent::test {

inline constexpr int64_t kNowS = 1767225600 + 10 * 86400;  // 2026-01-11, the tests' wall clock
inline const std::string kToken = "viewer-token-for-tests-0123456789";

// pm25 / 60 min network model file with the given version (trained once per
// process; versions differ only in the envelope's version).
std::string ModelFile(int64_t version);
// The same model whose golden pairs no longer reproduce (the reference
// output of the first pair moved by +50).
std::string GoldenMismatchFile(int64_t version);
// A linear pm25/60 model file (kind "linear").
std::string LinearModelFile(int64_t version);

struct Keys {
  std::string private_key;
  std::string public_key;
};
const Keys& CollectorKeys();  // generated once per process
const Keys& ForeignKeys();    // another key pair

// Serves GET /api/v1/models/{version}/artifact from an in-memory map.
class ArtifactServer {
 public:
  ArtifactServer();
  ~ArtifactServer();
  void Put(int64_t version, std::string bytes);
  std::string Url(int64_t version) const;
  int requests() const { return requests_.load(); }
  int unauthorized() const { return unauthorized_.load(); }
  void set_fail(bool fail) { fail_ = fail; }  // answer 503 to everything

  // civetweb callback.
  int Handle(void* conn);

 private:
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::mutex mu_;
  std::map<int64_t, std::string> files_;
  std::atomic<int> requests_{0};
  std::atomic<int> unauthorized_{0};
  std::atomic<bool> fail_{false};
};

// A signed network pm25/60 manifest for `bytes` served at `url`.
Manifest MakeManifest(int64_t version, const std::string& bytes, const std::string& url,
                      const std::string& stage = "production");
std::string Signed(Manifest m, const std::string& private_key = CollectorKeys().private_key);

}  // namespace sentinelle::agent::test
