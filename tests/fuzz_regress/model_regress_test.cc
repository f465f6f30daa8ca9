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

// "[$Z#L<2^31>": an array typed as null with two billion elements takes 13
// bytes, and the reader produced every null (minutes of CPU, gigabytes of
// DOM). A value count above the input size is refused at once.
// Corpus: fuzz/corpus/xgb_ubjson/timeout-typed-null-array.
TEST(ModelRegressTest, UbjsonTypedNullArrayWithHugeCountIsRefusedAtOnce) {
  const std::string typed_nulls = std::string("[$Z#L\x00\x00\x00\x00\x7f\xff\xff\xff", 13);
  auto m = XgbModel::Parse(typed_nulls, XgbEncoding::kUbjson);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("more values than"), std::string::npos) << m.message();
  // A real typed array of that kind with fewer values than bytes still parses
  // as far as the structure goes (and then fails as "not a model").
  const std::string few = std::string("[$Z#i\x03", 6);
  auto f = XgbModel::Parse(few, XgbEncoding::kUbjson);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.message().find("more values than"), std::string::npos) << f.message();
}

}  // namespace
}  // namespace sentinelle::predict
