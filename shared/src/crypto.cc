#include "sentinelle/crypto.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "sentinelle/dynlib.h"
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
  // Portable code for every input, model files and bundles included: the
  // first OpenSSL 3 digest loads its default provider, about 1.6 MiB of
  // resident libcrypto pages in an agent that otherwise never needs them
  // (see sha256.h). About 4 ms per MiB, against 0.7 for OpenSSL's
  // CPU-accelerated code: a few tens of ms per model file, once per load.
  return PortableSha256Hex(bytes);
}

namespace {

// libcrypto is loaded on the first signature operation, not at process start:
// mapping and relocating it alone keeps about 1.2 MiB resident, and a station
// verifies a signature only when a model bundle arrives (docs/PERFORMANCE.md,
// "Resident memory"). Only OpenSSL's types and constants come from the
// headers. Loaded once, never unloaded.
struct CryptoApi {
  decltype(&EVP_PKEY_free) pkey_free = nullptr;
  decltype(&EVP_PKEY_CTX_new_id) pkey_ctx_new_id = nullptr;
  decltype(&EVP_PKEY_CTX_free) pkey_ctx_free = nullptr;
  decltype(&EVP_PKEY_keygen_init) keygen_init = nullptr;
  decltype(&EVP_PKEY_keygen) keygen = nullptr;
  decltype(&EVP_PKEY_get_raw_private_key) get_raw_private_key = nullptr;
  decltype(&EVP_PKEY_get_raw_public_key) get_raw_public_key = nullptr;
  decltype(&EVP_PKEY_new_raw_private_key) new_raw_private_key = nullptr;
  decltype(&EVP_PKEY_new_raw_public_key) new_raw_public_key = nullptr;
  decltype(&EVP_MD_CTX_new) md_ctx_new = nullptr;
  decltype(&EVP_MD_CTX_free) md_ctx_free = nullptr;
  decltype(&EVP_DigestSignInit) digest_sign_init = nullptr;
  decltype(&EVP_DigestSign) digest_sign = nullptr;
  decltype(&EVP_DigestVerifyInit) digest_verify_init = nullptr;
  decltype(&EVP_DigestVerify) digest_verify = nullptr;
  std::string error;  // non-empty: libcrypto could not be loaded
};

const CryptoApi& Crypto() {
  static const CryptoApi api = [] {
    CryptoApi a;
    DynamicLibrary lib("libcrypto.so.3");
    lib.Bind("EVP_PKEY_free", a.pkey_free);
    lib.Bind("EVP_PKEY_CTX_new_id", a.pkey_ctx_new_id);
    lib.Bind("EVP_PKEY_CTX_free", a.pkey_ctx_free);
    lib.Bind("EVP_PKEY_keygen_init", a.keygen_init);
    lib.Bind("EVP_PKEY_keygen", a.keygen);
    lib.Bind("EVP_PKEY_get_raw_private_key", a.get_raw_private_key);
    lib.Bind("EVP_PKEY_get_raw_public_key", a.get_raw_public_key);
    lib.Bind("EVP_PKEY_new_raw_private_key", a.new_raw_private_key);
    lib.Bind("EVP_PKEY_new_raw_public_key", a.new_raw_public_key);
    lib.Bind("EVP_MD_CTX_new", a.md_ctx_new);
    lib.Bind("EVP_MD_CTX_free", a.md_ctx_free);
    lib.Bind("EVP_DigestSignInit", a.digest_sign_init);
    lib.Bind("EVP_DigestSign", a.digest_sign);
    lib.Bind("EVP_DigestVerifyInit", a.digest_verify_init);
    lib.Bind("EVP_DigestVerify", a.digest_verify);
    a.error = lib.error();
    // Ed25519Verify can only answer false: say once why every signature
    // will be refused.
    if (!a.error.empty()) spdlog::error("crypto: {}; Ed25519 signatures cannot be checked", a.error);
    return a;
  }();
  return api;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { Crypto().pkey_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { Crypto().pkey_ctx_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { Crypto().md_ctx_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
constexpr size_t kKeyLen = 32;
constexpr size_t kSigLen = 64;

unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Result<Ed25519KeyPair> GenerateEd25519KeyPair() {
  const CryptoApi& c = Crypto();
  if (!c.error.empty()) return MakeError("Ed25519 key generation: " + c.error);
  EVP_PKEY* raw = nullptr;
  PkeyCtxPtr ctx(c.pkey_ctx_new_id(EVP_PKEY_ED25519, nullptr));
  if (!ctx || c.keygen_init(ctx.get()) != 1 || c.keygen(ctx.get(), &raw) != 1) {
    return MakeError("Ed25519 key generation failed");
  }
  PkeyPtr key(raw);
  Ed25519KeyPair pair;
  pair.private_key.resize(kKeyLen);
  pair.public_key.resize(kKeyLen);
  size_t len = kKeyLen;
  if (c.get_raw_private_key(key.get(), Bytes(pair.private_key), &len) != 1 || len != kKeyLen) {
    return MakeError("Ed25519 private key export failed");
  }
  len = kKeyLen;
  if (c.get_raw_public_key(key.get(), Bytes(pair.public_key), &len) != 1 || len != kKeyLen) {
    return MakeError("Ed25519 public key export failed");
  }
  return pair;
}

Result<std::string> Ed25519PublicFromPrivate(std::string_view private_key) {
  if (private_key.size() != kKeyLen) return MakeError("Ed25519 private key must be 32 bytes");
  const CryptoApi& c = Crypto();
  if (!c.error.empty()) return MakeError("Ed25519: " + c.error);
  PkeyPtr key(c.new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(private_key), kKeyLen));
  if (!key) return MakeError("invalid Ed25519 private key");
  std::string pub(kKeyLen, '\0');
  size_t len = kKeyLen;
  if (c.get_raw_public_key(key.get(), Bytes(pub), &len) != 1) {
    return MakeError("Ed25519 public key export failed");
  }
  return pub;
}

Result<std::string> Ed25519Sign(std::string_view private_key, std::string_view message) {
  if (private_key.size() != kKeyLen) return MakeError("Ed25519 private key must be 32 bytes");
  const CryptoApi& c = Crypto();
  if (!c.error.empty()) return MakeError("Ed25519 signing: " + c.error);
  PkeyPtr key(c.new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(private_key), kKeyLen));
  MdCtxPtr ctx(c.md_ctx_new());
  if (!key || !ctx || c.digest_sign_init(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return MakeError("Ed25519 sign init failed");
  }
  std::string sig(kSigLen, '\0');
  size_t len = kSigLen;
  if (c.digest_sign(ctx.get(), Bytes(sig), &len, Bytes(message), message.size()) != 1 ||
      len != kSigLen) {
    return MakeError("Ed25519 signing failed");
  }
  return sig;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != kKeyLen || signature.size() != kSigLen) return false;
  const CryptoApi& c = Crypto();
  if (!c.error.empty()) return false;
  PkeyPtr key(c.new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), kKeyLen));
  MdCtxPtr ctx(c.md_ctx_new());
  if (!key || !ctx || c.digest_verify_init(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  return c.digest_verify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
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
