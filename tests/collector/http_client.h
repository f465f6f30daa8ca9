// A minimal blocking HTTP/1.1 client over a loopback socket, for API tests.
#pragma once

#include <string>

namespace sentinelle::testing {

struct HttpResult {
  int status = 0;  // 0: no response
  std::string body;
  std::string headers;
};

HttpResult HttpCall(int port, const std::string& method, const std::string& path,
                    const std::string& token = "", const std::string& body = "",
                    const std::string& content_type = "application/json");

}  // namespace sentinelle::testing
