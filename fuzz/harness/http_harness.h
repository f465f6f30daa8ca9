// The HTTP harness's request handling, for regression tests that assert the
// response to an input the fuzzer found (see harness.h for the input format).
#pragma once

#include <string_view>

#include "sentinelle/collector/http_api.h"

namespace sentinelle::fuzz {

collector::HttpResponse HandleHttpInput(std::string_view input);

}  // namespace sentinelle::fuzz
