#include "json_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sentinelle/json_util.h"

namespace sentinelle::sim {

namespace {
constexpr size_t kMaxJsonBytes = 1 << 20;
constexpr int kMaxDepth = 32;
}  // namespace

Result<nlohmann::json> ParseJsonFile(std::string_view text, const std::string& source) {
  // The depth and size limits come from the shared helper; it reports no
  // position, so syntax errors are located with the throwing parser below.
  auto limited = ParseJsonLimited(text, kMaxJsonBytes, kMaxDepth);
  if (limited) return limited;
  try {
    nlohmann::json unused = nlohmann::json::parse(text);
    (void)unused;
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    if (offset > text.size()) offset = text.size();
    int line = 1, column = 1;
    for (size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = e.what();
    // nlohmann's message repeats its own position prefix; keep the reason.
    const size_t colon = what.rfind(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    return MakeError(source + " line " + std::to_string(line) + ", column " +
                     std::to_string(column) + ": JSON syntax error: " + what);
  } catch (const std::exception& e) {
    return MakeError(source + ": " + e.what());
  }
  return MakeError(source + ": " + limited.message());
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return MakeError("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > max_bytes) {
    return MakeError(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  auto text = ReadSmallFile(path, kMaxJsonBytes);
  if (!text) return text.error();
  return ParseJsonFile(*text, path);
}

}  // namespace sentinelle::sim
