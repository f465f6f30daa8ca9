# Sanitizer and fuzzing builds (docs/DEVELOPERS.md, "Sanitizers and fuzzing").
#
# SENTINELLE_SANITIZE: every target with AddressSanitizer (leaks included) and
#   UndefinedBehaviorSanitizer; any UB report aborts (-fno-sanitize-recover),
#   so a finding fails its test. gcc or clang. Tree: build-asan/.
# SENTINELLE_BUILD_FUZZ: clang only. Every target is instrumented for
#   libFuzzer (fuzzer-no-link) with ASan+UBSan, and fuzz/ adds one libFuzzer
#   binary per parser of outside data. Tree: build-fuzz/ (scripts/fuzz.sh).
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
