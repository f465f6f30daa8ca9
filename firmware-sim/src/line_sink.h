// Where live and replay modes write sensor lines: stdout, or a loopback TCP
// or UNIX stream socket on which the agent listens.
#pragma once

#include <memory>
#include <string>

#include "sentinelle/result.h"

namespace sentinelle::sim {

class LineSink {
 public:
  virtual ~LineSink() = default;
  // Writes all of `data`; false (and disconnected) on failure.
  virtual bool Send(const std::string& data) = 0;
  virtual bool Connected() = 0;
  // One connection attempt; true when connected.
  virtual bool Reconnect() = 0;
};

// Parses a --to target: "stdout", "tcp:PORT", "tcp:127.0.0.1:PORT",
// "unix:/path". Does not connect yet.
Result<std::unique_ptr<LineSink>> MakeLineSink(const std::string& target);

}  // namespace sentinelle::sim
