#include "sentinelle/crypto.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "sentinelle/sha256.h"

namespace sentinelle {

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return MakeError("hex string of odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return MakeError("invalid hex digit");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  // Small inputs (feature fingerprints, tokens) never touch libcrypto: the
  // first OpenSSL 3 digest loads its provider, about 3.4 MiB resident in a
  // process that may otherwise never need it (see sha256.h). Large inputs
  // (model files, bundles) use OpenSSL's CPU-accelerated code.
  if (bytes.size() < kPortableSha256MaxBytes) return PortableSha256Hex(bytes);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

namespace {
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
constexpr size_t kKeyLen = 32;
constexpr size_t kSigLen = 64;
}  // namespace

Result<Ed25519KeyPair> GenerateEd25519KeyPair() {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return MakeError("Ed25519 key generation failed");
  }
  PkeyPtr key(raw);
  Ed25519KeyPair pair;
  pair.private_key.resize(kKeyLen);
  pair.public_key.resize(kKeyLen);
  size_t len = kKeyLen;
  if (EVP_PKEY_get_raw_private_key(key.get(), reinterpret_cast<unsigned char*>(pair.private_key.data()), &len) != 1 ||
      len != kKeyLen) {
    return MakeError("Ed25519 private key export failed");
  }
  len = kKeyLen;
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(pair.public_key.data()), &len) != 1 ||
      len != kKeyLen) {
    return MakeError("Ed25519 public key export failed");
  }
  return pair;
}

Result<std::string> Ed25519PublicFromPrivate(std::string_view private_key) {
  if (private_key.size() != kKeyLen) return MakeError("Ed25519 private key must be 32 bytes");
  PkeyPtr key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(private_key.data()),
      kKeyLen));
  if (!key) return MakeError("invalid Ed25519 private key");
  std::string pub(kKeyLen, '\0');
  size_t len = kKeyLen;
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(pub.data()), &len) != 1) {
    return MakeError("Ed25519 public key export failed");
  }
  return pub;
}

Result<std::string> Ed25519Sign(std::string_view private_key, std::string_view message) {
  if (private_key.size() != kKeyLen) return MakeError("Ed25519 private key must be 32 bytes");
  PkeyPtr key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(private_key.data()),
      kKeyLen));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return MakeError("Ed25519 sign init failed");
  }
  std::string sig(kSigLen, '\0');
  size_t len = kSigLen;
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != kSigLen) {
    return MakeError("Ed25519 signing failed");
  }
  return sig;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != kKeyLen || signature.size() != kSigLen) return false;
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      kKeyLen));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

Status WriteKeyFile(const std::string& path, std::string_view raw_key, bool is_private) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      is_private ? 0600 : 0644);
  if (fd < 0) return MakeError("cannot write " + tmp);
  const std::string line = ToHex(raw_key) + "\n";
  const bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  fsync(fd) == 0;
  close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return MakeError("cannot write key file " + path);
  }
  return Status::Ok();
}

Result<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError("cannot read key file " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  auto raw = FromHex(line);
  if (!raw || raw->size() != kKeyLen) return MakeError(path + ": not a 32-byte hex key");
  return raw;
}

}  // namespace sentinelle
