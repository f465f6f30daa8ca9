#include "sentinelle/manifest.h"

#include <gtest/gtest.h>

#include "sentinelle/crypto.h"

namespace sentinelle {
namespace {

Manifest Sample() {
  Manifest m;
  m.target = "pm25";
  m.horizon_min = 60;
  m.kind = "network";
  m.version = 7;
  m.stage = "canary";
  m.stations = {"abj-plateau"};
  m.created_s = 1767225600;
  m.expires_s = 1767225600 + 30 * 86400;
  m.artifact_url = "http://127.0.0.1:8080/api/v1/models/7/artifact";
  m.artifact_sha256 = Sha256Hex("model bytes");
  m.artifact_size = 11;
  m.xgboost_version = "1.7.4";
  m.feature_spec = {{"version", 1}, {"names", {"a", "b"}}};
  return m;
}

TEST(ManifestTest, SignEncodeDecodeVerify) {
  auto kp = GenerateEd25519KeyPair();
  Manifest m = Sample();
  ASSERT_TRUE(SignManifest(m, kp->private_key));
  auto back = DecodeManifest(EncodeManifest(m));
  ASSERT_TRUE(back) << back.message();
  EXPECT_TRUE(VerifyManifest(*back, kp->public_key));
  EXPECT_EQ(back->version, 7);
  EXPECT_EQ(back->feature_spec, m.feature_spec);
  EXPECT_TRUE(back->InScope("abj-plateau"));
  EXPECT_FALSE(back->InScope("abj-abobo"));
}

TEST(ManifestTest, AnyChangeBreaksTheSignature) {
  auto kp = GenerateEd25519KeyPair();
  Manifest m = Sample();
  ASSERT_TRUE(SignManifest(m, kp->private_key));
  Manifest t = m;
  t.version = 8;
  EXPECT_FALSE(VerifyManifest(t, kp->public_key));
  t = m;
  t.artifact_sha256[0] = t.artifact_sha256[0] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(VerifyManifest(t, kp->public_key));
  t = m;
  t.rollback = true;
  EXPECT_FALSE(VerifyManifest(t, kp->public_key));
  t = m;
  t.stations.clear();  // widening the scope
  EXPECT_FALSE(VerifyManifest(t, kp->public_key));
  auto other = GenerateEd25519KeyPair();
  EXPECT_FALSE(VerifyManifest(m, other->public_key));
}

TEST(ManifestTest, StrictDecoding) {
  auto kp = GenerateEd25519KeyPair();
  Manifest m = Sample();
  ASSERT_TRUE(SignManifest(m, kp->private_key));
  auto j = nlohmann::json::parse(EncodeManifest(m));
  auto check = [&](auto mutate, const char* why) {
    auto c = j;
    mutate(c);
    auto r = DecodeManifest(c.dump());
    EXPECT_FALSE(r) << why;
  };
  check([](auto& c) { c["target"] = "pm1"; }, "unknown target");
  check([](auto& c) { c["kind"] = "magic"; }, "kind");
  check([](auto& c) { c["artifact"]["sha256"] = "xyz"; }, "sha");
  check([](auto& c) { c["artifact"]["url"] = "file:///etc/passwd"; }, "url scheme");
  check([](auto& c) { c["stations"] = {"a/b"}; }, "station id");
  check([](auto& c) { c["extra"] = 1; }, "unknown field");
  check([](auto& c) { c["version"] = "7"; }, "string version");
  check([](auto& c) { c["signature"] = "00"; }, "short signature");
  EXPECT_FALSE(DecodeManifest("not json"));
}

}  // namespace
}  // namespace sentinelle
