// Hashing and signatures for model distribution (OpenSSL libcrypto adapter;
// crypto.cc is the only file that includes OpenSSL headers).
//
// SHA-256 is portable code (sha256.h); the Ed25519 functions load
// libcrypto.so.3 on first use (dlopen), so a process that only hashes never
// maps OpenSSL. Without libcrypto they fail: an error, or false from verify.
//
// Keys are raw 32-byte Ed25519 keys, carried as lowercase hex or in PEM files.
#pragma once

#include <string>
#include <string_view>

#include "sentinelle/result.h"

namespace sentinelle {

// SHA-256 of bytes, lowercase hex (64 chars). Never touches OpenSSL.
std::string Sha256Hex(std::string_view bytes);

std::string ToHex(std::string_view bytes);
Result<std::string> FromHex(std::string_view hex);

struct Ed25519KeyPair {
  std::string private_key;  // 32 raw bytes (the seed)
  std::string public_key;   // 32 raw bytes
};

Result<Ed25519KeyPair> GenerateEd25519KeyPair();
// 64-byte raw signature of message.
Result<std::string> Ed25519Sign(std::string_view private_key, std::string_view message);
// True only for a valid signature by public_key; false for any malformed input.
bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature);
Result<std::string> Ed25519PublicFromPrivate(std::string_view private_key);

// Key files: one line of lowercase hex, written with mode 0600 (private) or
// 0644 (public) through write-temp, fsync, rename.
Status WriteKeyFile(const std::string& path, std::string_view raw_key, bool is_private);
Result<std::string> ReadKeyFile(const std::string& path);

}  // namespace sentinelle
