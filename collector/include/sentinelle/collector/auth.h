// Bearer-token authentication and role-based permissions for the HTTP API
// (docs/PROTOCOL.md, "HTTP API"). Tokens are never stored: the configuration
// lists the SHA-256 of each token with a role; a request's token is hashed
// and compared in constant time against every entry.
//
// Roles: viewer (read), data_scientist (read, train, promote, import),
// admin (everything, including the station registry).
//
// Immutable after construction; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/collector/config.h"

namespace sentinelle::collector {

enum class Permission { kRead, kTrain, kPromote, kImport, kRegistry };
std::string_view PermissionName(Permission p);
bool RoleAllows(Role role, Permission permission);

struct Principal {
  std::string name;
  Role role = Role::kViewer;
};

enum class AuthFailure { kNone, kMissingToken, kInvalidToken };

class TokenAuth {
 public:
  explicit TokenAuth(std::vector<TokenEntry> tokens);

  // authorization: the raw Authorization header (nullopt when absent).
  // Returns the principal, or sets *failure.
  std::optional<Principal> Authenticate(std::optional<std::string_view> authorization,
                                        AuthFailure* failure) const;

  // Lowercase hex SHA-256 of a token (what the configuration stores).
  static std::string HashToken(std::string_view token);
  // A fresh random token: 32 bytes from the kernel's CSPRNG, hex encoded.
  // Throws std::runtime_error when no randomness is available.
  static std::string NewToken();

 private:
  std::vector<TokenEntry> tokens_;
};

}  // namespace sentinelle::collector
