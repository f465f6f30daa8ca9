#include "sentinelle/xgboost/xgb_booster.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace sentinelle::xgb {

using predict::DenseMatrix;
using predict::XgbEncoding;

namespace {

Error XgbError(const std::string& what) {
  return MakeError(what + ": " + XGBGetLastError());
}

struct DMatrix {
  DMatrixHandle h = nullptr;
  ~DMatrix() {
    if (h) XGDMatrixFree(h);
  }
};
struct BoosterGuard {
  BoosterHandle h = nullptr;
  ~BoosterGuard() {
    if (h) XGBoosterFree(h);
  }
};

Status MakeDMatrix(const DenseMatrix& X, const std::vector<float>& y, int nthread, DMatrix& out) {
  if (X.rows == 0 || X.cols == 0) return MakeError("empty training matrix");
  if (y.size() != X.rows) return MakeError("label count differs from row count");
  // The parallel variant reads the same rows with `nthread` threads (the
  // plain one is single-threaded); the resulting DMatrix is identical.
  if (XGDMatrixCreateFromMat_omp(X.data.data(), X.rows, X.cols, NAN, &out.h,
                                 std::max(1, nthread)) != 0) {
    return XgbError("XGDMatrixCreateFromMat_omp");
  }
  if (XGDMatrixSetFloatInfo(out.h, "label", y.data(), y.size()) != 0) {
    return XgbError("XGDMatrixSetFloatInfo(label)");
  }
  return Status::Ok();
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// "[3]\tval-rmse:1.2345" -> 1.2345
double ParseLastMetric(const char* text) {
  const char* colon = std::strrchr(text, ':');
  return colon ? std::strtod(colon + 1, nullptr) : NAN;
}

const char* FormatConfig(XgbEncoding e) {
  return e == XgbEncoding::kJson ? R"({"format":"json"})" : R"({"format":"ubj"})";
}

}  // namespace

Result<TrainedBooster> TrainXgb(const TrainParams& params, const DenseMatrix& X,
                                const std::vector<float>& y, const DenseMatrix* X_val,
                                const std::vector<float>* y_val, int early_stopping_rounds,
                                uint64_t seed, XgbEncoding encoding) {
  if (params.num_rounds < 1) return MakeError("num_rounds must be at least 1");
  DMatrix train, val;
  if (Status s = MakeDMatrix(X, y, params.nthread, train); !s) return s.error();
  const bool has_val = X_val != nullptr && y_val != nullptr && X_val->rows > 0;
  if (has_val) {
    if (X_val->cols != X.cols) return MakeError("validation matrix has a different width");
    if (Status s = MakeDMatrix(*X_val, *y_val, params.nthread, val); !s) return s.error();
  }
  double base_score = params.base_score;
  if (std::isnan(base_score)) {
    double sum = 0;
    for (float v : y) sum += v;
    base_score = sum / static_cast<double>(y.size());
  }
  DMatrixHandle both[2] = {train.h, val.h};
  BoosterGuard booster;
  if (XGBoosterCreate(both, has_val ? 2 : 1, &booster.h) != 0) return XgbError("XGBoosterCreate");
  const std::pair<const char*, std::string> kv[] = {
      {"objective", params.objective},
      {"tree_method", params.tree_method},
      {"max_depth", std::to_string(params.max_depth)},
      {"eta", Num(params.eta)},
      {"subsample", Num(params.subsample)},
      {"colsample_bytree", Num(params.colsample_bytree)},
      {"min_child_weight", Num(params.min_child_weight)},
      {"lambda", Num(params.lambda)},
      {"nthread", std::to_string(params.nthread)},
      {"max_bin", std::to_string(params.max_bin)},
      {"seed", std::to_string(seed)},
      {"base_score", Num(base_score)},
      {"eval_metric", "rmse"},
      {"verbosity", "0"},
  };
  for (const auto& [k, v] : kv) {
    if (XGBoosterSetParam(booster.h, k, v.c_str()) != 0) {
      return XgbError(std::string("XGBoosterSetParam(") + k + ")");
    }
  }
  int best_round = 0;
  double best_rmse = INFINITY;
  int rounds = 0;
  const char* names[1] = {"val"};
  for (int i = 0; i < params.num_rounds; ++i) {
    if (XGBoosterUpdateOneIter(booster.h, i, train.h) != 0) return XgbError("XGBoosterUpdateOneIter");
    rounds = i + 1;
    if (!has_val) continue;
    const char* eval = nullptr;
    DMatrixHandle vals[1] = {val.h};
    if (XGBoosterEvalOneIter(booster.h, i, vals, names, 1, &eval) != 0) {
      return XgbError("XGBoosterEvalOneIter");
    }
    const double rmse = ParseLastMetric(eval);
    if (rmse < best_rmse) {
      best_rmse = rmse;
      best_round = i;
    } else if (early_stopping_rounds > 0 && i - best_round >= early_stopping_rounds) {
      break;
    }
  }
  BoosterGuard sliced;
  BoosterHandle out = booster.h;
  TrainedBooster result;
  result.rounds = rounds;
  if (has_val) {
    result.validation_rmse = best_rmse;
    if (best_round + 1 < rounds) {
      if (XGBoosterSlice(booster.h, 0, best_round + 1, 1, &sliced.h) != 0) {
        return XgbError("XGBoosterSlice");
      }
      out = sliced.h;
      result.rounds = best_round + 1;
    }
  }
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(out, FormatConfig(encoding), &len, &buf) != 0) {
    return XgbError("XGBoosterSaveModelToBuffer");
  }
  result.bytes.assign(buf, len);
  result.encoding = encoding;
  return result;
}

std::string LibraryVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

Booster::Booster(void* handle) : handle_(handle) {
  predict_config_ =
      R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})";
}

Booster::Booster(Booster&& o) noexcept
    : handle_(std::exchange(o.handle_, nullptr)), predict_config_(std::move(o.predict_config_)) {}

Booster& Booster::operator=(Booster&& o) noexcept {
  if (this != &o) {
    if (handle_) XGBoosterFree(handle_);
    handle_ = std::exchange(o.handle_, nullptr);
    predict_config_ = std::move(o.predict_config_);
  }
  return *this;
}

Booster::~Booster() {
  if (handle_) XGBoosterFree(handle_);
}

Result<Booster> Booster::Load(std::string_view bytes) {
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0) return XgbError("XGBoosterCreate");
  Booster b(h);
  if (XGBoosterLoadModelFromBuffer(h, bytes.data(), bytes.size()) != 0) {
    return XgbError("XGBoosterLoadModelFromBuffer");
  }
  if (XGBoosterSetParam(h, "nthread", "1") != 0) return XgbError("XGBoosterSetParam(nthread)");
  return b;
}

Result<std::vector<float>> Booster::PredictDense(const float* data, size_t rows,
                                                 size_t cols) const {
  const std::string array = R"({"data":[)" + std::to_string(reinterpret_cast<uintptr_t>(data)) +
                            R"(,true],"shape":[)" + std::to_string(rows) + "," +
                            std::to_string(cols) + R"(],"typestr":"<f4","version":3})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  if (XGBoosterPredictFromDense(handle_, array.c_str(), predict_config_.c_str(), nullptr, &shape,
                                &dim, &out) != 0) {
    return XgbError("XGBoosterPredictFromDense");
  }
  return std::vector<float>(out, out + rows);
}

Result<float> Booster::PredictRow(const float* row, size_t cols) const {
  auto r = PredictDense(row, 1, cols);
  if (!r) return r.error();
  return r->front();
}

Result<std::string> Booster::Save(XgbEncoding encoding) const {
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterSaveModelToBuffer(handle_, FormatConfig(encoding), &len, &buf) != 0) {
    return XgbError("XGBoosterSaveModelToBuffer");
  }
  return std::string(buf, len);
}

Result<std::string> TrainXgbModelFile(const predict::ModelFileRequest& request,
                                      const predict::TrainingSet& train,
                                      const predict::TrainingSet* val, const TrainParams& params,
                                      int early_stopping_rounds, uint64_t seed,
                                      XgbEncoding encoding) {
  if (train.X.cols != request.spec.Width()) return MakeError("training rows do not match the feature spec");
  auto trained = TrainXgb(params, train.X, train.y, val ? &val->X : nullptr, val ? &val->y : nullptr,
                          early_stopping_rounds, seed, encoding);
  if (!trained) return trained.error();
  auto reference = Booster::Load(trained->bytes);
  if (!reference) return reference.error();
  predict::ModelEnvelope e = predict::EnvelopeFor(request);
  e.kind = predict::ModelKind::kXgboost;
  e.encoding = std::string(predict::XgbEncodingName(encoding));
  e.booster = std::move(trained->bytes);
  e.training["rows"] = train.X.rows;
  e.training["rounds"] = trained->rounds;
  e.training["validation_rmse"] = trained->validation_rmse;
  e.training["seed"] = seed;
  e.training["params"] = {{"objective", params.objective}, {"max_depth", params.max_depth},
                          {"eta", params.eta},             {"num_rounds", params.num_rounds},
                          {"subsample", params.subsample}, {"colsample_bytree", params.colsample_bytree},
                          {"lambda", params.lambda},       {"min_child_weight", params.min_child_weight}};
  bool failed = false;
  std::string failure;
  e.self_test = predict::MakeGoldenPairs(train.X, 8, [&](const float* x) {
    auto y = reference->PredictRow(x, train.X.cols);
    if (!y) {
      failed = true;
      failure = y.message();
      return 0.0f;
    }
    return *y;
  });
  if (failed) return MakeError(failure);
  return predict::WriteModelFile(e);
}

}  // namespace sentinelle::xgb
