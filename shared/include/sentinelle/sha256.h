// SHA-256 (FIPS 180-4) in portable C++, without OpenSSL.
//
// Why it exists: the first OpenSSL 3 digest loads the default provider and
// touches 1.6-3.4 MiB of libcrypto pages. The agent hashes its feature
// specification at start-up and every model file it loads (about 1 MB each),
// and a station that verifies no bundle signature should not pay for
// OpenSSL. Sha256Hex (crypto.h) is this code for every input; it gives the
// same digest as OpenSSL (tests compare them, up to multi-MiB inputs) at
// about 4 ms per MiB (OpenSSL: 0.7, with the CPU's SHA instructions).
//
// Not constant-time-relevant: SHA-256 has no secret-dependent branches here.
// Thread-compatible: one Sha256 object per thread; the free function is
// thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sentinelle {

class Sha256 {
 public:
  static constexpr size_t kDigestBytes = 32;
  using Digest = std::array<uint8_t, kDigestBytes>;

  Sha256();
  // Feeds more bytes; may be called any number of times before Finish().
  void Update(std::string_view bytes);
  // Pads, returns the digest and resets the object for a new message.
  Digest Finish();

 private:
  void Block(const uint8_t* p);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// SHA-256 of bytes with the portable code, lowercase hex (64 chars).
std::string PortableSha256Hex(std::string_view bytes);

}  // namespace sentinelle
