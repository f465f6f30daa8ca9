// HTTP(S) download of model artifacts (libcurl adapter; fetch.cc is the only
// file that includes curl headers).
//
// Downloads into `dest_path + ".part"`, resuming from a partial file left by
// an earlier attempt (HTTP Range), refuses bodies larger than max_bytes, and
// on success fsyncs and renames the file to dest_path, so dest_path is either
// absent or complete. Blocking; call it off the hot path. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "sentinelle/result.h"

namespace sentinelle {

struct FetchOptions {
  int64_t max_bytes = 64 << 20;
  int connect_timeout_ms = 5000;
  int total_timeout_ms = 120000;
  // Abort when the transfer stays below 1 byte/s for this long (slow links
  // are fine; a dead one is not).
  int stall_timeout_ms = 30000;
  std::string bearer_token;   // sent as Authorization: Bearer when set
  std::string ca_file;        // custom CA bundle for https
};

struct FetchResult {
  int64_t bytes = 0;          // size of the complete file
  int64_t resumed_from = 0;   // bytes already present from an earlier attempt
  long http_status = 0;
};

Result<FetchResult> FetchToFile(const std::string& url, const std::string& dest_path,
                                const FetchOptions& options = {});

// Writes bytes to path atomically: temp file, fsync, rename, fsync of the
// directory.
Status WriteFileAtomic(const std::string& path, std::string_view bytes);
Result<std::string> ReadFile(const std::string& path, int64_t max_bytes = 256 << 20);

}  // namespace sentinelle
