#include "sentinelle/predict/linear_model.h"

#include <algorithm>
#include <cmath>

namespace sentinelle::predict {

using nlohmann::json;

double LinearModel::Predict(const float* x) const {
  double sum = intercept;
  for (size_t i = 0; i < weight.size(); ++i) {
    if (!std::isnan(x[i])) sum += weight[i] * ((static_cast<double>(x[i]) - mean[i]) / scale[i]);
  }
  return sum;
}

json LinearModel::ToJson() const {
  return json{{"intercept", intercept}, {"mean", mean}, {"scale", scale}, {"weight", weight}};
}

Result<LinearModel> LinearModel::FromJson(const json& j) {
  if (!j.is_object() || j.size() != 4) return MakeError("linear model: expected intercept, mean, scale, weight");
  LinearModel m;
  auto numbers = [&](const char* key, std::vector<double>& out) -> bool {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) return false;
    for (const auto& v : *it) {
      if (!v.is_number() || !std::isfinite(v.get<double>())) return false;
      out.push_back(v.get<double>());
    }
    return true;
  };
  auto ic = j.find("intercept");
  if (ic == j.end() || !ic->is_number() || !std::isfinite(ic->get<double>())) {
    return MakeError("linear model: intercept missing or not finite");
  }
  m.intercept = ic->get<double>();
  if (!numbers("mean", m.mean) || !numbers("scale", m.scale) || !numbers("weight", m.weight)) {
    return MakeError("linear model: mean/scale/weight must be lists of finite numbers");
  }
  if (m.mean.size() != m.weight.size() || m.scale.size() != m.weight.size() || m.weight.empty()) {
    return MakeError("linear model: mean/scale/weight differ in length");
  }
  for (double s : m.scale) {
    if (!(s > 0)) return MakeError("linear model: scale must be positive");
  }
  return m;
}

Result<LinearModel> FitRidge(const DenseMatrix& X, const std::vector<float>& y, double lambda) {
  const size_t n = X.rows, p = X.cols;
  if (n < 2 || p == 0) return MakeError("ridge: need at least two rows and one feature");
  if (y.size() != n) return MakeError("ridge: label count differs from row count");
  if (!(lambda >= 0)) return MakeError("ridge: lambda must be non-negative");
  LinearModel m;
  m.mean.assign(p, 0.0);
  m.scale.assign(p, 1.0);
  m.weight.assign(p, 0.0);
  std::vector<size_t> count(p, 0);
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < p; ++c) {
      const float v = X.row(r)[c];
      if (!std::isnan(v)) {
        m.mean[c] += v;
        ++count[c];
      }
    }
  }
  for (size_t c = 0; c < p; ++c) m.mean[c] = count[c] ? m.mean[c] / count[c] : 0.0;
  std::vector<double> var(p, 0.0);
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < p; ++c) {
      const float v = X.row(r)[c];
      if (!std::isnan(v)) var[c] += (v - m.mean[c]) * (v - m.mean[c]);
    }
  }
  std::vector<bool> used(p, false);
  for (size_t c = 0; c < p; ++c) {
    const double sd = count[c] >= 2 ? std::sqrt(var[c] / count[c]) : 0.0;
    if (sd > 1e-12) {
      m.scale[c] = sd;
      used[c] = true;
    }
  }
  double y_mean = 0.0;
  for (float v : y) y_mean += v;
  y_mean /= n;
  m.intercept = y_mean;

  // Normal equations on standardised, mean-imputed features (missing = 0).
  std::vector<double> a(p * p, 0.0), b(p, 0.0), z(p);
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < p; ++c) {
      const float v = X.row(r)[c];
      z[c] = used[c] && !std::isnan(v) ? (v - m.mean[c]) / m.scale[c] : 0.0;
    }
    const double t = y[r] - y_mean;
    for (size_t i = 0; i < p; ++i) {
      if (z[i] == 0.0) continue;
      b[i] += z[i] * t;
      for (size_t k = 0; k <= i; ++k) a[i * p + k] += z[i] * z[k];
    }
  }
  const double penalty = std::max(lambda * static_cast<double>(n), 1e-9);
  for (size_t i = 0; i < p; ++i) {
    a[i * p + i] += used[i] ? penalty : 1.0;
  }
  // Cholesky (lower triangle), then two triangular solves.
  for (size_t j = 0; j < p; ++j) {
    double d = a[j * p + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * p + k] * a[j * p + k];
    if (!(d > 0)) return MakeError("ridge: normal equations not positive definite");
    a[j * p + j] = std::sqrt(d);
    for (size_t i = j + 1; i < p; ++i) {
      double s = a[i * p + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * p + k] * a[j * p + k];
      a[i * p + j] = s / a[j * p + j];
    }
  }
  std::vector<double> w(p);
  for (size_t i = 0; i < p; ++i) {
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= a[i * p + k] * w[k];
    w[i] = s / a[i * p + i];
  }
  for (size_t i = p; i-- > 0;) {
    double s = w[i];
    for (size_t k = i + 1; k < p; ++k) s -= a[k * p + i] * m.weight[k];
    m.weight[i] = s / a[i * p + i];
  }
  for (size_t c = 0; c < p; ++c) {
    if (!used[c]) m.weight[c] = 0.0;
    if (!std::isfinite(m.weight[c])) return MakeError("ridge: solution is not finite");
  }
  return m;
}

}  // namespace sentinelle::predict
