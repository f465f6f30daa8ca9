// A shared library loaded at run time (dlopen) instead of at process start.
//
// Why: every library the agent links is mapped and relocated before main, and
// its touched pages stay resident. Libraries that only some stations need
// (libcurl for model downloads, libcrypto for bundle signatures, paho's TLS
// build for ssl:// brokers) are loaded on first use, so a station that never
// needs them does not carry them (docs/PERFORMANCE.md, "Resident memory").
//
// A DynamicLibrary is never closed: the code it maps may have started threads
// or registered handlers. Bind() records the first missing symbol; ok() is
// false after any failure and error() says what failed. Thread-compatible
// while binding; an object that is fully bound is read-only and thread-safe.
#pragma once

#include <dlfcn.h>

#include <string>

namespace sentinelle {

class DynamicLibrary {
 public:
  // Opens `soname` with RTLD_NOW | RTLD_LOCAL | extra_flags (e.g.
  // RTLD_NOLOAD: only if the process already has it).
  explicit DynamicLibrary(const char* soname, int extra_flags = 0) : soname_(soname) {
    handle_ = dlopen(soname, RTLD_NOW | RTLD_LOCAL | extra_flags);
    if (handle_ == nullptr) {
      const char* e = dlerror();
      error_ = std::string("cannot load ") + soname + ": " + (e ? e : "unknown error");
    }
  }

  // Points fn at the symbol `name`; leaves it null (and records the error)
  // when the library is missing or lacks it.
  template <typename Fn>
  bool Bind(const char* name, Fn& fn) {
    fn = handle_ == nullptr ? nullptr : reinterpret_cast<Fn>(dlsym(handle_, name));
    if (fn == nullptr && error_.empty()) error_ = soname_ + " has no " + name;
    return fn != nullptr;
  }

  bool ok() const { return error_.empty(); }
  bool loaded() const { return handle_ != nullptr; }
  const std::string& error() const { return error_; }
  // Records a failure found by the caller (e.g. a library init call).
  void Fail(std::string error) {
    if (error_.empty()) error_ = std::move(error);
  }

 private:
  std::string soname_;
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace sentinelle
