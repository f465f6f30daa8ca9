#include "sentinelle/crypto.h"

#include <gtest/gtest.h>

#include "process.h"

namespace sentinelle {
namespace {

TEST(CryptoTest, Sha256KnownAnswer) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, HexRoundTripAndErrors) {
  EXPECT_EQ(ToHex(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*FromHex("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(FromHex("abc"));
  EXPECT_FALSE(FromHex("zz"));
}

TEST(CryptoTest, SignVerifyAndTamper) {
  auto kp = GenerateEd25519KeyPair();
  ASSERT_TRUE(kp) << kp.message();
  EXPECT_EQ(*Ed25519PublicFromPrivate(kp->private_key), kp->public_key);
  auto sig = Ed25519Sign(kp->private_key, "manifest bytes");
  ASSERT_TRUE(sig);
  EXPECT_TRUE(Ed25519Verify(kp->public_key, "manifest bytes", *sig));
  EXPECT_FALSE(Ed25519Verify(kp->public_key, "manifest bytez", *sig));
  std::string bad = *sig;
  bad[5] ^= 1;
  EXPECT_FALSE(Ed25519Verify(kp->public_key, "manifest bytes", bad));
  auto other = GenerateEd25519KeyPair();
  EXPECT_FALSE(Ed25519Verify(other->public_key, "manifest bytes", *sig));
  EXPECT_FALSE(Ed25519Verify("short", "manifest bytes", *sig));
  EXPECT_FALSE(Ed25519Verify(kp->public_key, "manifest bytes", "short"));
}

TEST(CryptoTest, KeyFiles) {
  testing::TempDir dir;
  auto kp = GenerateEd25519KeyPair();
  ASSERT_TRUE(WriteKeyFile(dir.File("k.pub"), kp->public_key, false));
  auto back = ReadKeyFile(dir.File("k.pub"));
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(*back, kp->public_key);
  EXPECT_FALSE(ReadKeyFile(dir.File("missing")));
  EXPECT_FALSE(WriteKeyFile("/nonexistent-dir/k", kp->public_key, false));
}

}  // namespace
}  // namespace sentinelle
