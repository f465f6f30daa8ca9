#include "sentinelle/fetch.h"

// libcurl is loaded on the first download (dlopen), not at process start:
// it and what it pulls in (GnuTLS, Kerberos, LDAP, libssh2, nghttp2, ...)
// are about 4 MiB of resident pages that a station which never downloads a
// model should not carry (docs/PERFORMANCE.md, "Resident memory"). Only
// curl's types and constants come from the header.
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>

#include "sentinelle/dynlib.h"

namespace sentinelle {

namespace {

struct CurlApi {
  CURLcode (*global_init)(long flags) = nullptr;
  CURL* (*easy_init)() = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
  std::string error;  // non-empty: libcurl could not be loaded
};

// Loaded once and kept for the life of the process (curl's global state
// must not be torn down under another thread).
const CurlApi& Curl() {
  static const CurlApi api = [] {
    CurlApi a;
    DynamicLibrary lib("libcurl.so.4");
    lib.Bind("curl_global_init", a.global_init);
    lib.Bind("curl_easy_init", a.easy_init);
    lib.Bind("curl_easy_setopt", a.easy_setopt);
    lib.Bind("curl_easy_perform", a.easy_perform);
    lib.Bind("curl_easy_getinfo", a.easy_getinfo);
    lib.Bind("curl_easy_cleanup", a.easy_cleanup);
    lib.Bind("curl_easy_strerror", a.easy_strerror);
    lib.Bind("curl_slist_append", a.slist_append);
    lib.Bind("curl_slist_free_all", a.slist_free_all);
    if (lib.ok() && a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) lib.Fail("curl_global_init failed");
    a.error = lib.error();
    return a;
  }();
  return api;
}

struct Sink {
  int fd = -1;
  int64_t written = 0;
  int64_t max_bytes = 0;
  bool too_large = false;
  bool write_error = false;
};

size_t OnData(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (sink->written + static_cast<int64_t>(n) > sink->max_bytes) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  size_t off = 0;
  while (off < n) {
    const ssize_t w = write(sink->fd, ptr + off, n - off);
    if (w <= 0) {
      sink->write_error = true;
      return 0;
    }
    off += static_cast<size_t>(w);
  }
  sink->written += static_cast<int64_t>(n);
  return n;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

void FsyncDir(const std::string& path) {
  const int dfd = open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

}  // namespace

Result<FetchResult> FetchToFile(const std::string& url, const std::string& dest_path,
                                const FetchOptions& options) {
  const CurlApi& api = Curl();
  if (!api.error.empty()) return MakeError(url + ": " + api.error);
  const std::string part = dest_path + ".part";
  struct stat st{};
  int64_t existing = stat(part.c_str(), &st) == 0 ? st.st_size : 0;
  if (existing > options.max_bytes) {
    unlink(part.c_str());
    existing = 0;
  }
  const int fd = open(part.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return MakeError("cannot open " + part);
  Sink sink{fd, existing, options.max_bytes};

  CURL* curl = api.easy_init();
  if (!curl) {
    close(fd);
    return MakeError("curl_easy_init failed");
  }
  curl_slist* headers = nullptr;
  if (!options.bearer_token.empty()) {
    headers = api.slist_append(headers, ("Authorization: Bearer " + options.bearer_token).c_str());
  }
  api.easy_setopt(curl, CURLOPT_URL, url.c_str());
  api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout_ms));
  api.easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout_ms));
  api.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  api.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(std::max(1, options.stall_timeout_ms / 1000)));
  api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  api.easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (headers) api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!options.ca_file.empty()) api.easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  if (existing > 0) api.easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(existing));

  const CURLcode rc = api.easy_perform(curl);
  long status = 0;
  api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  api.slist_free_all(headers);
  api.easy_cleanup(curl);

  FetchResult result{sink.written, existing, status};
  if (sink.too_large) {
    close(fd);
    unlink(part.c_str());
    return MakeError(url + ": body exceeds " + std::to_string(options.max_bytes) + " bytes");
  }
  if (rc != CURLE_OK || sink.write_error) {
    close(fd);
    // A range the server cannot satisfy or ignores means the partial file
    // is useless: start from scratch next time.
    if (status == 416 || rc == CURLE_RANGE_ERROR) unlink(part.c_str());
    return MakeError(url + ": " + (sink.write_error ? "write failed" : api.easy_strerror(rc)) +
                     " (kept " + std::to_string(sink.written) + " bytes for resume)");
  }
  if (existing > 0 && status == 200) {
    // The server ignored the range and sent the whole body after our prefix.
    close(fd);
    unlink(part.c_str());
    return MakeError(url + ": server ignored the resume range; retry from scratch");
  }
  if (status != 200 && status != 206) {
    close(fd);
    unlink(part.c_str());
    return MakeError(url + ": HTTP status " + std::to_string(status));
  }
  const bool synced = fsync(fd) == 0;
  close(fd);
  if (!synced || std::rename(part.c_str(), dest_path.c_str()) != 0) {
    return MakeError("cannot commit " + dest_path);
  }
  FsyncDir(dest_path);
  return result;
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return MakeError("cannot create " + tmp);
  size_t off = 0;
  bool ok = true;
  while (off < bytes.size()) {
    const ssize_t w = write(fd, bytes.data() + off, bytes.size() - off);
    if (w <= 0) {
      ok = false;
      break;
    }
    off += static_cast<size_t>(w);
  }
  ok = ok && fsync(fd) == 0;
  close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return MakeError("cannot write " + path);
  }
  FsyncDir(path);
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path, int64_t max_bytes) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return MakeError("cannot stat " + path);
  if (st.st_size > max_bytes) return MakeError(path + ": larger than " + std::to_string(max_bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace sentinelle
