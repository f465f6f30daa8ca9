# Sanitizer and fuzzing builds (DEVELOPERS.md, "Sanitizers and fuzzing").
#
# SENTINELLE_BUILD_FUZZ: clang only. Every target is instrumented for
#   libFuzzer (fuzzer-no-link) with AddressSanitizer (leaks included) and
#   UndefinedBehaviorSanitizer; any UB report aborts (-fno-sanitize-recover),
#   so a finding fails its test. fuzz/ adds one libFuzzer binary per parser of
#   outside data. Tree: build-fuzz/ (scripts/build-sanitized.sh), which CI
#   uses for both the whole test suite under the sanitizers and the fuzzers.
# SENTINELLE_SANITIZE: the same sanitizers without the fuzzing
#   instrumentation, gcc or clang, for a tree of one's own (not used by CI).
option(SENTINELLE_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
option(SENTINELLE_BUILD_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)

if(SENTINELLE_SANITIZE OR SENTINELLE_BUILD_FUZZ)
  set(_sentinelle_sanitizers address,undefined)
  if(SENTINELLE_BUILD_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "SENTINELLE_BUILD_FUZZ needs clang: configure with "
                          "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,${_sentinelle_sanitizers})
  else()
    add_compile_options(-fsanitize=${_sentinelle_sanitizers})
  endif()
  add_compile_options(-fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_sentinelle_sanitizers})
endif()
