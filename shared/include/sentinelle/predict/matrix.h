// A dense, row-major float32 matrix: the feature rows handed to models and to
// the trainer. float32 because XGBoost compares features and thresholds in
// float32; NaN marks a missing value.
#pragma once

#include <cstddef>
#include <vector>

namespace sentinelle::predict {

struct DenseMatrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<float> data;  // rows * cols, row-major

  DenseMatrix() = default;
  DenseMatrix(size_t r, size_t c, float fill = 0.0f) : rows(r), cols(c), data(r * c, fill) {}
  const float* row(size_t i) const { return data.data() + i * cols; }
  float* row(size_t i) { return data.data() + i * cols; }
  // Appends one row of `cols` values (cols is fixed by the first row when 0).
  void AppendRow(const float* values, size_t n) {
    if (rows == 0 && cols == 0) cols = n;
    data.insert(data.end(), values, values + n);
    ++rows;
  }
};

}  // namespace sentinelle::predict
