// DynamicLibrary: a library loaded on first use, its failures named.
#include "sentinelle/dynlib.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>

namespace sentinelle {
namespace {

TEST(DynamicLibraryTest, BindsSymbolsOfALoadableLibrary) {
  DynamicLibrary lib("libz.so.1");
  const char* (*version)() = nullptr;
  ASSERT_TRUE(lib.Bind("zlibVersion", version)) << lib.error();
  EXPECT_TRUE(lib.ok());
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(std::string(version()).substr(0, 2), "1.");
}

TEST(DynamicLibraryTest, AMissingLibraryIsNamedAndBindsNothing) {
  DynamicLibrary lib("libsentinelle-does-not-exist.so.7");
  EXPECT_FALSE(lib.loaded());
  EXPECT_FALSE(lib.ok());
  EXPECT_NE(lib.error().find("cannot load libsentinelle-does-not-exist.so.7"), std::string::npos)
      << lib.error();
  int (*fn)() = reinterpret_cast<int (*)()>(1);
  EXPECT_FALSE(lib.Bind("anything", fn));
  EXPECT_EQ(fn, nullptr);
}

TEST(DynamicLibraryTest, TheFirstMissingSymbolIsNamed) {
  DynamicLibrary lib("libz.so.1");
  void (*missing)() = nullptr;
  const char* (*version)() = nullptr;
  EXPECT_FALSE(lib.Bind("sentinelle_no_such_symbol", missing));
  EXPECT_TRUE(lib.Bind("zlibVersion", version));  // later symbols still bind
  EXPECT_FALSE(lib.ok());
  EXPECT_EQ(lib.error(), "libz.so.1 has no sentinelle_no_such_symbol");
  lib.Fail("a later failure");
  EXPECT_EQ(lib.error(), "libz.so.1 has no sentinelle_no_such_symbol");  // the first one is kept
}

TEST(DynamicLibraryTest, NoLoadOnlyFindsALibraryTheProcessAlreadyHas) {
  EXPECT_TRUE(DynamicLibrary("libc.so.6", RTLD_NOLOAD).loaded());
  // This test binary does not link libcurl; loading it is dlopen's job, not
  // RTLD_NOLOAD's.
  EXPECT_FALSE(DynamicLibrary("libcurl.so.4", RTLD_NOLOAD).loaded());
}

}  // namespace
}  // namespace sentinelle
