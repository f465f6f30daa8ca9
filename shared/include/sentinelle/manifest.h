// Model manifests: what the collector announces on the retained topic
// {p}/models/{target}/{horizon_min}/manifest and what a bundle carries.
//
// A manifest is signed with the collector's Ed25519 key over its canonical
// bytes: the manifest's JSON without the "signature" field, serialised with
// sorted keys and no whitespace (nlohmann's dump()). Agents verify the
// signature before looking at anything else, then the artifact's size and
// sha256 after download (docs/PROTOCOL.md, "Model manifest").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/result.h"

namespace sentinelle {

inline constexpr size_t kMaxManifestBytes = 256 * 1024;

struct Manifest {
  std::string target;            // e.g. "pm25"
  int horizon_min = 0;           // e.g. 60
  std::string kind;              // "station" | "network" | "linear"
  int64_t version = 0;           // registry version; strictly increasing per (target, horizon, kind)
  std::string stage;             // "shadow" | "canary" | "production"
  std::vector<std::string> stations;  // rollout scope; empty = every station
  int64_t created_s = 0;         // Unix seconds UTC
  int64_t expires_s = 0;         // agents refuse the model after this time
  bool rollback = false;         // explicit, signed permission to go back to an older version
  std::string artifact_url;      // HTTP(S) URL of the model file
  std::string artifact_sha256;   // lowercase hex
  int64_t artifact_size = 0;     // bytes
  std::string xgboost_version;   // version of the library that trained it ("" for linear)
  nlohmann::json feature_spec;   // the model's feature specification (object)
  std::string signature;         // hex Ed25519 signature; empty until signed

  bool InScope(std::string_view station_id) const;
};

// Canonical bytes that the signature covers.
std::string ManifestCanonicalBytes(const Manifest& m);
// Signs in place (sets signature).
Status SignManifest(Manifest& m, std::string_view private_key);
// Checks the signature against public_key.
bool VerifyManifest(const Manifest& m, std::string_view public_key);

std::string EncodeManifest(const Manifest& m);
// Strict: unknown fields, wrong types, bad hex, oversized input are errors.
Result<Manifest> DecodeManifest(std::string_view payload);

}  // namespace sentinelle
