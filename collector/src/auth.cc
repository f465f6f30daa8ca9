#include "sentinelle/collector/auth.h"

#include <sys/random.h>

#include <stdexcept>

#include "sentinelle/crypto.h"

namespace sentinelle::collector {

std::string_view PermissionName(Permission p) {
  switch (p) {
    case Permission::kRead: return "read";
    case Permission::kTrain: return "train";
    case Permission::kPromote: return "promote";
    case Permission::kImport: return "import";
    case Permission::kRegistry: return "registry";
  }
  return "read";
}

bool RoleAllows(Role role, Permission p) {
  switch (role) {
    case Role::kAdmin: return true;
    case Role::kDataScientist: return p != Permission::kRegistry;
    case Role::kViewer: return p == Permission::kRead;
  }
  return false;
}

TokenAuth::TokenAuth(std::vector<TokenEntry> tokens) : tokens_(std::move(tokens)) {}

std::string TokenAuth::HashToken(std::string_view token) { return Sha256Hex(token); }

std::string TokenAuth::NewToken() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n <= 0) throw std::runtime_error("getrandom failed");
    got += static_cast<size_t>(n);
  }
  return ToHex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

std::optional<Principal> TokenAuth::Authenticate(std::optional<std::string_view> authorization,
                                                 AuthFailure* failure) const {
  *failure = AuthFailure::kNone;
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization || authorization->size() <= kBearer.size() ||
      authorization->substr(0, kBearer.size()) != kBearer) {
    *failure = AuthFailure::kMissingToken;
    return std::nullopt;
  }
  std::string_view token = authorization->substr(kBearer.size());
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > 4096) {
    *failure = token.empty() ? AuthFailure::kMissingToken : AuthFailure::kInvalidToken;
    return std::nullopt;
  }
  const std::string hash = HashToken(token);
  const TokenEntry* match = nullptr;
  // Compare against every entry without early exit, so timing does not tell
  // how many hash characters matched.
  for (const TokenEntry& e : tokens_) {
    unsigned diff = e.sha256.size() ^ hash.size();
    for (size_t i = 0; i < hash.size() && i < e.sha256.size(); ++i) {
      diff |= static_cast<unsigned>(e.sha256[i] ^ hash[i]);
    }
    if (diff == 0 && match == nullptr) match = &e;
  }
  if (match == nullptr) {
    *failure = AuthFailure::kInvalidToken;
    return std::nullopt;
  }
  return Principal{match->name, match->role};
}

}  // namespace sentinelle::collector
