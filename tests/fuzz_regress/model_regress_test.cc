// Regressions found by fuzz_xgb_ubjson / fuzz_model_file, asserted on the
// parser's result.
#include <gtest/gtest.h>

#include <string>

#include "sentinelle/predict/xgb_model.h"

namespace sentinelle::predict {
namespace {

// A UBJSON container whose count exceeds what a std::vector can hold made
// nlohmann throw out_of_range ("excessive array size") although the parse
// asked for no exceptions: the exception left XgbModel::Parse and would end
// the agent. Corpus: fuzz/corpus/xgb_ubjson/crash-excessive-array-count.
TEST(ModelRegressTest, UbjsonContainerCountBeyondMaxSizeIsAnError) {
  const std::string counted_array = std::string("[#L") + std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
  auto m = XgbModel::Parse(counted_array, XgbEncoding::kUbjson);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("UBJSON"), std::string::npos) << m.message();
  // Inside an object, where a model's arrays are.
  const std::string nested = std::string("{i\x07learner[#L", 13) +
                             std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8) + "}";
  EXPECT_FALSE(XgbModel::Parse(nested, XgbEncoding::kUbjson).ok());
}

}  // namespace
}  // namespace sentinelle::predict
