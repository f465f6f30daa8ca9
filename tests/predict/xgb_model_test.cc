// The station's tree evaluator against libxgboost itself, on models trained
// here with real data shapes: missing values, default directions, several
// depths (complete and generic layouts), JSON and UBJSON.
#include "sentinelle/predict/xgb_model.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "sentinelle/xgboost/xgb_booster.h"

namespace sentinelle::predict {
namespace {

// Rows with a nonlinear target; about `missing_rate` of values are NaN, so
// the trees learn default directions both ways.
void MakeData(size_t rows, size_t cols, double missing_rate, uint32_t seed, DenseMatrix& X,
              std::vector<float>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  X = DenseMatrix(rows, cols);
  y.assign(rows, 0.0f);
  for (size_t i = 0; i < rows; ++i) {
    float* r = X.row(i);
    for (size_t j = 0; j < cols; ++j) r[j] = n(rng) * static_cast<float>(j + 1);
    y[i] = 20.0f + 3.0f * r[0] + std::sin(r[1]) * 5.0f + (r[2] > 0 ? 4.0f : -1.0f) +
           0.1f * n(rng);
    for (size_t j = 0; j < cols; ++j) {
      if (u(rng) < missing_rate) r[j] = NAN;
    }
    // Missing-ness itself carries signal, so default_left is not always left.
    if (std::isnan(r[0])) y[i] += 15.0f;
  }
}

struct Case {
  int depth;
  int rounds;
  XgbEncoding encoding;
};

class XgbAgreement : public ::testing::TestWithParam<Case> {};

TEST_P(XgbAgreement, MatchesLibxgboostOnManyRows) {
  const Case c = GetParam();
  DenseMatrix X, Xt;
  std::vector<float> y, yt;
  MakeData(1500, 9, 0.15, 7 + c.depth, X, y);
  MakeData(2000, 9, 0.25, 1000 + c.depth, Xt, yt);
  xgb::TrainParams p;
  p.max_depth = c.depth;
  p.num_rounds = c.rounds;
  p.eta = 0.3;
  auto trained = xgb::TrainXgb(p, X, y, nullptr, nullptr, 0, 42, c.encoding);
  ASSERT_TRUE(trained) << trained.message();
  EXPECT_EQ(trained->rounds, c.rounds);

  auto ref = xgb::Booster::Load(trained->bytes);
  ASSERT_TRUE(ref) << ref.message();
  auto expected = ref->PredictDense(Xt.data.data(), Xt.rows, Xt.cols);
  ASSERT_TRUE(expected) << expected.message();

  // Every layout, each against libxgboost.
  for (XgbLayout layout : {XgbLayout::kBlocked, XgbLayout::kQuantised, XgbLayout::kGeneric}) {
    SCOPED_TRACE(std::string(XgbLayoutName(layout)));
    auto model = layout == XgbLayout::kBlocked ? XgbModel::Parse(trained->bytes, c.encoding)
                                               : XgbModel::Parse(trained->bytes, c.encoding, layout);
    ASSERT_TRUE(model) << model.message();
    EXPECT_EQ(model->num_features(), 9);
    EXPECT_EQ(model->num_trees(), c.rounds);
    EXPECT_LE(model->max_depth(), c.depth);
    const bool complete = model->max_depth() <= XgbModel::kMaxCompleteDepth;
    EXPECT_EQ(model->complete_layout(), complete && layout != XgbLayout::kGeneric);
    EXPECT_EQ(model->layout(), complete ? layout : XgbLayout::kGeneric);

    size_t exact = 0;
    for (size_t i = 0; i < Xt.rows; ++i) {
      const float got = model->Predict(Xt.row(i));
      const float want = (*expected)[i];
      ASSERT_NEAR(got, want, 1e-5f * std::max(1.0f, std::fabs(want))) << "row " << i;
      exact += got == want;
    }
    // Same float32 order of summation as XGBoost's CPU predictor.
    EXPECT_GE(exact, Xt.rows * 99 / 100);

    // All-missing and extreme rows follow default directions only.
    std::vector<float> nan_row(9, NAN), big_row(9, 1e30f), small_row(9, -1e30f), inf_row(9, INFINITY),
        ninf_row(9, -INFINITY);
    for (auto* row : {&nan_row, &big_row, &small_row, &inf_row, &ninf_row}) {
      auto want = ref->PredictRow(row->data(), 9);
      ASSERT_TRUE(want);
      EXPECT_NEAR(model->Predict(row->data()), *want, 1e-5f * std::max(1.0f, std::fabs(*want)));
    }
    if (model->layout() == XgbLayout::kQuantised) {
      // A missing value: rank 0 in its default-left slot, 65535 in its default-right one.
      std::vector<uint16_t> ranks(18, 7);
      std::vector<float> row(Xt.row(0), Xt.row(0) + 9);
      row[0] = NAN;
      model->QuantiseRow(row.data(), ranks.data());
      EXPECT_EQ(ranks[0], 0);
      EXPECT_EQ(ranks[1], 65535);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Depths, XgbAgreement,
                         ::testing::Values(Case{1, 5, XgbEncoding::kJson},
                                           Case{2, 12, XgbEncoding::kUbjson},
                                           Case{3, 40, XgbEncoding::kUbjson},
                                           Case{4, 32, XgbEncoding::kJson},  // 3 + 1 levels
                                           Case{5, 25, XgbEncoding::kUbjson},  // 3 + 2 levels
                                           Case{6, 60, XgbEncoding::kJson},
                                           Case{6, 60, XgbEncoding::kUbjson},
                                           Case{7, 20, XgbEncoding::kJson},  // 4 + 3 quantised
                                           Case{8, 30, XgbEncoding::kUbjson},
                                           Case{10, 12, XgbEncoding::kJson},  // deepest complete
                                           Case{13, 10, XgbEncoding::kJson}));

// A feature with more distinct thresholds than 16-bit indices can name:
// asking for the quantised layout gives the blocked one, which still agrees.
TEST(XgbModel, QuantisedFallsBackToBlockedBeyond65535Thresholds) {
  DenseMatrix X;
  std::vector<float> y;
  MakeData(1000, 4, 0.1, 11, X, y);
  xgb::TrainParams p;
  p.max_depth = 6;
  p.num_rounds = 4;
  p.eta = 0.3;
  auto trained = xgb::TrainXgb(p, X, y, nullptr, nullptr, 0, 1);
  ASSERT_TRUE(trained) << trained.message();
  auto j = nlohmann::json::parse(trained->bytes);
  auto& model = j["learner"]["gradient_booster"]["model"];
  const nlohmann::json seed = model["trees"];
  nlohmann::json trees = nlohmann::json::array();
  size_t splits = 0;
  int next_cut = 0;
  while (splits <= 65536) {
    for (const auto& t : seed) {
      nlohmann::json copy = t;
      copy["id"] = trees.size();
      auto& left = copy["left_children"];
      for (size_t i = 0; i < left.size(); ++i) {
        if (left[i].get<int>() == -1) continue;
        // All splits on feature 0, each at its own threshold in [-4, 4).
        copy["split_indices"][i] = 0;
        copy["split_conditions"][i] = -4.0 + 1e-4 * next_cut++;
        ++splits;
      }
      trees.push_back(std::move(copy));
    }
  }
  const size_t n = trees.size();
  model["trees"] = std::move(trees);
  model["tree_info"] = std::vector<int>(n, 0);
  model["gbtree_model_param"]["num_trees"] = std::to_string(n);
  const std::string bytes = j.dump();

  auto quantised = XgbModel::Parse(bytes, XgbEncoding::kJson, XgbLayout::kQuantised);
  ASSERT_TRUE(quantised) << quantised.message();
  EXPECT_EQ(quantised->layout(), XgbLayout::kBlocked);
  EXPECT_EQ(quantised->num_trees(), static_cast<int>(n));
  auto ref = xgb::Booster::Load(bytes);
  ASSERT_TRUE(ref) << ref.message();
  DenseMatrix Xt;
  std::vector<float> yt;
  MakeData(300, 4, 0.2, 12, Xt, yt);
  auto want = ref->PredictDense(Xt.data.data(), Xt.rows, Xt.cols);
  ASSERT_TRUE(want) << want.message();
  for (size_t i = 0; i < Xt.rows; ++i) {
    const float w = (*want)[i];
    ASSERT_NEAR(quantised->Predict(Xt.row(i)), w, 1e-4f * std::max(1.0f, std::fabs(w))) << "row " << i;
  }

  // Under the limit (the seed trees alone), the same request is met.
  auto small = XgbModel::Parse(trained->bytes, XgbEncoding::kJson, XgbLayout::kQuantised);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->layout(), XgbLayout::kQuantised);
}

TEST(XgbModel, EarlyStoppingSlicesToBestRoundAndStillAgrees) {
  DenseMatrix X, Xv;
  std::vector<float> y, yv;
  MakeData(800, 6, 0.1, 3, X, y);
  MakeData(300, 6, 0.1, 4, Xv, yv);
  xgb::TrainParams p;
  p.max_depth = 8;
  p.eta = 0.8;  // overfits quickly, so validation error turns up
  p.num_rounds = 300;
  auto trained = xgb::TrainXgb(p, X, y, &Xv, &yv, 5, 1);
  ASSERT_TRUE(trained) << trained.message();
  EXPECT_LT(trained->rounds, 300);
  EXPECT_GT(trained->validation_rmse, 0.0);
  auto model = XgbModel::Parse(trained->bytes, XgbEncoding::kJson);
  ASSERT_TRUE(model) << model.message();
  EXPECT_EQ(model->num_trees(), trained->rounds);
  auto ref = xgb::Booster::Load(trained->bytes);
  ASSERT_TRUE(ref);
  auto want = ref->PredictDense(Xv.data.data(), Xv.rows, Xv.cols);
  ASSERT_TRUE(want);
  for (size_t i = 0; i < Xv.rows; ++i) {
    EXPECT_NEAR(model->Predict(Xv.row(i)), (*want)[i], 1e-4f) << i;
  }
}

TEST(XgbModel, NestingAndSizeLimitsAreClearErrors) {
  // Deep nesting would exhaust the stack of a recursive parser: refused
  // with a clear error, in both encodings, before the parser descends.
  const std::string deep_ubjson(1 << 20, '[');
  auto u = XgbModel::Parse(deep_ubjson, XgbEncoding::kUbjson);
  ASSERT_FALSE(u);
  EXPECT_NE(u.message().find("nested deeper than 32"), std::string::npos) << u.message();
  const std::string deep_json = std::string(1 << 20, '[') + std::string(1 << 20, ']');
  auto j = XgbModel::Parse(deep_json, XgbEncoding::kJson);
  ASSERT_FALSE(j);
  EXPECT_NE(j.message().find("nested deeper than 32"), std::string::npos) << j.message();
  // Shallow but wrong UBJSON is "malformed", not "too deep".
  auto shallow = XgbModel::Parse(std::string(8, '['), XgbEncoding::kUbjson);
  ASSERT_FALSE(shallow);
  EXPECT_NE(shallow.message().find("malformed"), std::string::npos) << shallow.message();

  // One byte over the size limit is refused before any parsing. The bytes
  // are untouched anonymous pages: the check costs no memory.
  const size_t over = XgbModel::kMaxModelBytes + 1;
  void* p = mmap(nullptr, over, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  for (XgbEncoding e : {XgbEncoding::kJson, XgbEncoding::kUbjson}) {
    auto big = XgbModel::Parse(std::string_view(static_cast<const char*>(p), over), e);
    ASSERT_FALSE(big);
    EXPECT_NE(big.message().find("exceeds the limit of " + std::to_string(XgbModel::kMaxModelBytes)),
              std::string::npos)
        << big.message();
  }
  munmap(p, over);
}

TEST(XgbModel, RefusesWhatItCannotEvaluate) {
  DenseMatrix X;
  std::vector<float> y;
  MakeData(200, 4, 0.0, 5, X, y);
  xgb::TrainParams p;
  p.num_rounds = 3;
  auto good = xgb::TrainXgb(p, X, y, nullptr, nullptr, 0, 1);
  ASSERT_TRUE(good);
  ASSERT_TRUE(XgbModel::Parse(good->bytes, XgbEncoding::kJson));

  // Wrong encoding, truncation, garbage.
  EXPECT_FALSE(XgbModel::Parse(good->bytes, XgbEncoding::kUbjson));
  EXPECT_FALSE(XgbModel::Parse(good->bytes.substr(0, good->bytes.size() / 2), XgbEncoding::kJson));
  EXPECT_FALSE(XgbModel::Parse("not a model", XgbEncoding::kJson));
  EXPECT_FALSE(XgbModel::Parse(std::string("\x7b\x00\xff\x12", 4), XgbEncoding::kUbjson));

  auto j = nlohmann::json::parse(good->bytes);
  auto& tree0 = j["learner"]["gradient_booster"]["model"]["trees"][0];
  {
    auto bad = j;
    bad["learner"]["objective"]["name"] = "binary:logistic";
    auto r = XgbModel::Parse(bad.dump(), XgbEncoding::kJson);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("objective"), std::string::npos);
  }
  {
    auto bad = j;
    bad["learner"]["gradient_booster"]["name"] = "dart";
    EXPECT_FALSE(XgbModel::Parse(bad.dump(), XgbEncoding::kJson));
  }
  {
    auto bad = j;
    auto& t = bad["learner"]["gradient_booster"]["model"]["trees"][0];
    t["left_children"][0] = 100000;  // child out of range
    EXPECT_FALSE(XgbModel::Parse(bad.dump(), XgbEncoding::kJson));
  }
  // Floats where indices belong: integral ones are indices, the rest (out of
  // range, fractional beyond the type, non-finite in UBJSON) are refused,
  // never converted (the conversion would be undefined behaviour).
  for (double v : {1e30, -1e30, 9.3e18}) {
    auto bad = j;
    auto& t = bad["learner"]["gradient_booster"]["model"]["trees"][0];
    t["left_children"][0] = v;
    EXPECT_FALSE(XgbModel::Parse(bad.dump(), XgbEncoding::kJson)) << v;
    t["left_children"][0] = std::numeric_limits<double>::quiet_NaN();
    EXPECT_FALSE(XgbModel::Parse(std::string(reinterpret_cast<const char*>(
                                                 nlohmann::json::to_ubjson(bad).data()),
                                             nlohmann::json::to_ubjson(bad).size()),
                                 XgbEncoding::kUbjson));
  }
  {
    auto bad = j;
    auto& t = bad["learner"]["gradient_booster"]["model"]["trees"][0];
    t["split_indices"][0] = 4;  // feature 4 of a 4-feature model
    auto r = XgbModel::Parse(bad.dump(), XgbEncoding::kJson);
    ASSERT_FALSE(r);
    EXPECT_NE(r.message().find("feature"), std::string::npos);
  }
  {
    auto bad = j;
    auto& t = bad["learner"]["gradient_booster"]["model"]["trees"][0];
    // Root's right child points back at the root: a cycle.
    ASSERT_NE(tree0["left_children"][0], -1);
    t["right_children"][0] = 0;
    EXPECT_FALSE(XgbModel::Parse(bad.dump(), XgbEncoding::kJson));
  }
  {
    auto bad = j;
    bad["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"].erase(0);
    EXPECT_FALSE(XgbModel::Parse(bad.dump(), XgbEncoding::kJson));
  }
  {
    auto bad = j;
    bad["learner"]["learner_model_param"]["num_class"] = "3";
    EXPECT_FALSE(XgbModel::Parse(bad.dump(), XgbEncoding::kJson));
  }
}

}  // namespace
}  // namespace sentinelle::predict
