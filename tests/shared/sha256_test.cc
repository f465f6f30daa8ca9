// The portable SHA-256 against the FIPS 180-4 / NIST examples and against
// OpenSSL on every length around the block and padding boundaries, fed in one
// piece and in uneven pieces and on multi-MiB inputs (model files); Sha256Hex
// (the portable code, without OpenSSL) agrees with OpenSSL at every size.
#include "sentinelle/sha256.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <string>

#include "sentinelle/crypto.h"

namespace sentinelle {
namespace {

std::string OpenSslHex(std::string_view bytes) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d);
  return ToHex(std::string_view(reinterpret_cast<const char*>(d), sizeof(d)));
}

// Deterministic bytes covering all 256 values.
std::string Bytes(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

TEST(Sha256Test, NistExamples) {
  EXPECT_EQ(PortableSha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(PortableSha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(PortableSha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(PortableSha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                              "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(PortableSha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, MatchesOpenSslOnEveryLengthAroundTheBlocks) {
  const std::string data = Bytes(300);
  for (size_t n = 0; n <= data.size(); ++n) {
    const std::string_view in(data.data(), n);
    ASSERT_EQ(PortableSha256Hex(in), OpenSslHex(in)) << "length " << n;
  }
}

TEST(Sha256Test, PiecewiseUpdatesGiveTheSameDigest) {
  const std::string data = Bytes(5000);
  const std::string want = OpenSslHex(data);
  for (size_t step : {1, 3, 55, 56, 63, 64, 65, 127, 1000}) {
    Sha256 sha;
    for (size_t i = 0; i < data.size(); i += step) {
      sha.Update(std::string_view(data).substr(i, step));
    }
    const Sha256::Digest d = sha.Finish();
    EXPECT_EQ(ToHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size())), want)
        << "step " << step;
  }
}

TEST(Sha256Test, FinishResetsForTheNextMessage) {
  Sha256 sha;
  sha.Update("first message");
  (void)sha.Finish();
  sha.Update("abc");
  const Sha256::Digest d = sha.Finish();
  EXPECT_EQ(ToHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size())),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, Sha256HexMatchesOpenSslUpToMultiMebibyteInputs) {
  // Model files are about 1 MB; bundles and registries hash larger ones.
  const std::string data = Bytes((5u << 20) + 77);
  for (size_t n : {size_t{0}, size_t{64}, size_t{65535}, size_t{65536}, size_t{999493},
                   size_t{1} << 20, (size_t{3} << 20) + 1, data.size()}) {
    const std::string_view in(data.data(), n);
    EXPECT_EQ(Sha256Hex(in), OpenSslHex(in)) << "length " << n;
  }
}

TEST(Sha256Test, OneFlippedBitChangesTheDigestOfALargeInput) {
  std::string data = Bytes(2u << 20);
  const std::string before = Sha256Hex(data);
  data[data.size() / 2] ^= 0x10;
  EXPECT_NE(Sha256Hex(data), before);
  EXPECT_EQ(Sha256Hex(data), OpenSslHex(data));
}

}  // namespace
}  // namespace sentinelle
