#pragma once
// Keys and values of every computed position, per batch row and layer, so that each generation
// step computes only its new token. Rows grow independently: each batch row is its own sequence.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"
#include "attrib/transformer/model/config.hpp"

namespace attrib {

class kv_cache {
 public:
  kv_cache(const transformer_config& config, index batch_rows)
      : layers_(config.n_layers), kv_dim_(config.kv_dim()), context_length_(config.context_length) {
    if (batch_rows < 0) throw invalid_argument("kv_cache: batch_rows is negative");
    rows_.resize(static_cast<std::size_t>(batch_rows));
    for (auto& r : rows_) {
      r.keys.resize(static_cast<std::size_t>(layers_));
      r.values.resize(static_cast<std::size_t>(layers_));
    }
  }

  index rows() const { return static_cast<index>(rows_.size()); }
  index kv_dim() const { return kv_dim_; }
  index context_length() const { return context_length_; }

  // Positions computed so far in batch row `row`.
  index length(index row) const { return entry(row).length; }

  // Forgets positions >= `length` of `row`, so that they can be recomputed (with other tokens or
  // other interventions) while the prefix is reused.
  void truncate(index row, index length) {
    auto& r = entry(row);
    if (length < 0 || length > r.length)
      throw invalid_argument("kv_cache::truncate: length " + std::to_string(length) +
                             " is outside [0, " + std::to_string(r.length) + "] for batch row " +
                             std::to_string(row));
    r.length = length;
  }

  void clear() {
    for (auto& r : rows_) r.length = 0;
  }

  // Makes room for positions [0, length) of `row` and records that they are computed; the
  // model fills keys and values for the new positions before it reads them.
  void extend(index row, index length) {
    auto& r = entry(row);
    if (length > context_length_)
      throw invalid_argument("batch row " + std::to_string(row) + " would hold " +
                             std::to_string(length) + " positions, more than the context length " +
                             std::to_string(context_length_));
    if (length > r.capacity) {
      const index capacity =
          std::min(context_length_, std::max({length, 2 * r.capacity, index{16}}));
      for (index l = 0; l < layers_; ++l) {
        r.keys[static_cast<std::size_t>(l)].resize(static_cast<std::size_t>(capacity * kv_dim_));
        r.values[static_cast<std::size_t>(l)].resize(static_cast<std::size_t>(capacity * kv_dim_));
      }
      r.capacity = capacity;
    }
    r.length = std::max(r.length, length);
  }

  // The key (value) of `position` in `layer` of `row`: kv_dim floats.
  float* key(index row, index layer, index position) {
    return entry(row).keys[static_cast<std::size_t>(layer)].data() + position * kv_dim_;
  }
  const float* key(index row, index layer, index position) const {
    return entry(row).keys[static_cast<std::size_t>(layer)].data() + position * kv_dim_;
  }
  float* value(index row, index layer, index position) {
    return entry(row).values[static_cast<std::size_t>(layer)].data() + position * kv_dim_;
  }
  const float* value(index row, index layer, index position) const {
    return entry(row).values[static_cast<std::size_t>(layer)].data() + position * kv_dim_;
  }

 private:
  struct row_state {
    index length = 0;
    index capacity = 0;
    std::vector<std::vector<float>> keys;    // per layer: capacity x kv_dim
    std::vector<std::vector<float>> values;  // per layer: capacity x kv_dim
  };

  row_state& entry(index row) {
    check_row(row);
    return rows_[static_cast<std::size_t>(row)];
  }
  const row_state& entry(index row) const {
    check_row(row);
    return rows_[static_cast<std::size_t>(row)];
  }
  void check_row(index row) const {
    if (row < 0 || row >= rows())
      throw invalid_argument("kv_cache: batch row " + std::to_string(row) + " is outside [0, " +
                             std::to_string(rows()) + ")");
  }

  index layers_;
  index kv_dim_;
  index context_length_;
  std::vector<row_state> rows_;
};

}  // namespace attrib
