#pragma once
// masking: a coalition keeps the features of its present players at the explained point x
// and takes the others from a baseline - one reference input, or every row of a background
// set, the point's value then being the mean over the rows (interventional expectation).
// Between the corners a point z in [0, 1]^players interpolates, (1 - z) b + z x per group: the
// straight path from the baseline (z = 0) to x (z = 1) that Integrated Gradients integrates
// along, so gradient methods and coalition methods share one interpretable space.
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "attrib/concepts/perturbation.hpp"
#include "attrib/core/feature_groups.hpp"
#include "attrib/core/validate.hpp"

namespace attrib {

class masking {
 public:
  // A single reference input as the baseline.
  explicit masking(const vector& reference)
      : masking(matrix(reference.transpose()), feature_groups::singletons(reference.size())) {}
  // A background set: the value of a coalition is its mean over the background rows.
  explicit masking(matrix background)
      : masking(background, feature_groups::singletons(background.cols())) {}
  masking(matrix background, feature_groups groups)
      : background_(std::move(background)), groups_(std::move(groups)) {
    detail::require(background_.rows() > 0 && background_.cols() > 0,
                    "masking: the baseline is empty; expected at least one row of features");
    detail::require_finite(background_, "masking: baseline");
    if (groups_.feature_count() != background_.cols())
      detail::fail("masking: feature groups cover " + std::to_string(groups_.feature_count()) +
                   " features but the baseline has " + std::to_string(background_.cols()));
  }

  index interpretable_dim() const { return groups_.player_count(); }
  index input_dim() const { return background_.cols(); }
  index inputs_per_point() const { return background_.rows(); }
  const matrix& background() const { return background_; }
  const feature_groups& groups() const { return groups_; }

  void map(const vector& x, const matrix& z, matrix& inputs) const {
    const index rows = background_.rows();
    const index d = background_.cols();
    inputs.resize(z.rows() * rows, d);
    // One flat pass per input row, without branches on z (coalition methods map thousands of
    // rows per chunk, where block-wise Eigen assignments and mispredicted branches on 0/1 values
    // cost more than the values). (1 - t) b + t x is exactly b at t = 0 and exactly x at t = 1.
    if (rows == 1 && groups_.one_per_feature()) {
      // One reference row, one player per feature (the common case): one Eigen expression over
      // the whole batch, which vectorises; the same operations per element as the loop below.
      inputs.array() = (1.0 - z.array()).rowwise() * background_.row(0).array() +
                       z.array().rowwise() * x.transpose().array();
      return;
    }
    const index* player = groups_.player_of_features().data();
    const double* xs = x.data();
    for (index i = 0; i < z.rows(); ++i) {
      const double* zi = &z(i, 0);
      for (index r = 0; r < rows; ++r) {
        double* out = &inputs(i * rows + r, 0);
        const double* b = &background_(r, 0);
        for (index f = 0; f < d; ++f) {
          const double t = zi[player[f]];
          out[f] = (1.0 - t) * b[f] + t * xs[f];
        }
      }
    }
  }

  // The inputs of the consecutive coalitions first, ..., first + count - 1 read as bitmasks
  // (bit p set: player p present), equal bit for bit to what map() writes for their 0/1 rows.
  // Exact enumeration asks for thousands of rows per chunk; building them from the bits, with
  // a bitwise select instead of the arithmetic and without the 0/1 matrix, costs less than the
  // model's first layer.
  void map_coalitions(const vector& x, std::uint64_t first, index count, matrix& inputs) const {
    const index rows = background_.rows();
    const index d = background_.cols();
    const index players = interpretable_dim();
    detail::require(players < 64, "masking: coalitions as bitmasks need fewer than 64 players");
    detail::require(count >= 0, "masking: negative coalition count");
    const std::uint64_t coalitions = std::uint64_t{1} << players;
    if (first > coalitions || static_cast<std::uint64_t>(count) > coalitions - first)
      detail::fail("masking: coalitions " + std::to_string(first) + " .. " +
                   std::to_string(first + static_cast<std::uint64_t>(count)) + " (exclusive) exceed the " +
                   std::to_string(coalitions) + " of " + std::to_string(players) + " players");
    inputs.resize(count * rows, d);
    // What map() writes at t = 1 and at t = 0, per baseline row, as bits: the selects below
    // then reproduce its arithmetic, signed zeros included. Kept per thread: enumeration calls
    // this once per chunk.
    thread_local std::vector<std::uint64_t> endpoints;
    endpoints.resize(static_cast<std::size_t>(2 * rows * d));
    std::uint64_t* present = endpoints.data();
    std::uint64_t* absent = present + rows * d;
    for (index r = 0; r < rows; ++r)
      for (index f = 0; f < d; ++f) {
        const double b = background_(r, f);
        present[r * d + f] = std::bit_cast<std::uint64_t>((1.0 - 1.0) * b + 1.0 * x(f));
        absent[r * d + f] = std::bit_cast<std::uint64_t>((1.0 - 0.0) * b + 0.0 * x(f));
      }
    const bool singletons = groups_.one_per_feature();
    if (singletons && rows == 1) {
      // One reference row, one player per feature (so d < 64, at most eight blocks of eight):
      // each block's eight values for all 256 bytes of the mask, selected once per call (16 KB a
      // block), so that a row is a copy of whole blocks.
      const index blocks = (d + 7) / 8;
      thread_local std::vector<double> table;
      table.resize(static_cast<std::size_t>(blocks * 256 * 8));
      for (index k = 0; k < blocks; ++k)
        for (std::size_t byte = 0; byte < 256; ++byte)
          for (index j = 0; j < 8 && 8 * k + j < d; ++j) {
            const index f = 8 * k + j;
            const std::uint64_t bits = ((byte >> j) & 1u) != 0 ? present[f] : absent[f];
            std::memcpy(&table[(static_cast<std::size_t>(k) * 256 + byte) * 8 +
                               static_cast<std::size_t>(j)],
                        &bits, sizeof bits);
          }
      const index full = d / 8, tail = d % 8;
      for (index i = 0; i < count; ++i) {
        const std::uint64_t mask = first + static_cast<std::uint64_t>(i);
        double* out = &inputs(i, 0);
        for (index k = 0; k < full; ++k) {
          const std::size_t byte = (mask >> (8 * k)) & 255u;
          std::memcpy(out + 8 * k, &table[(static_cast<std::size_t>(k) * 256 + byte) * 8],
                      8 * sizeof(double));
        }
        if (tail != 0) {
          const std::size_t byte = (mask >> (8 * full)) & 255u;
          std::memcpy(out + 8 * full, &table[(static_cast<std::size_t>(full) * 256 + byte) * 8],
                      static_cast<std::size_t>(tail) * sizeof(double));
        }
      }
      return;
    }
    // Several reference rows or feature groups: a bitwise select per value. All-ones where
    // feature j of a byte's eight is present, so that one table read selects eight features.
    static constexpr auto byte_selects = [] {
      std::array<std::array<std::uint64_t, 8>, 256> table{};
      for (std::size_t byte = 0; byte < 256; ++byte)
        for (std::size_t j = 0; j < 8; ++j) table[byte][j] = ((byte >> j) & 1u) != 0 ? ~std::uint64_t{0} : 0;
      return table;
    }();
    const index* player = groups_.player_of_features().data();
    for (index i = 0; i < count; ++i) {
      const std::uint64_t mask = first + static_cast<std::uint64_t>(i);
      for (index r = 0; r < rows; ++r) {
        double* out = &inputs(i * rows + r, 0);
        const std::uint64_t* p = present + r * d;
        const std::uint64_t* a = absent + r * d;
        index f = 0;
        if (singletons)
          for (; f + 8 <= d; f += 8) {
            const auto& select = byte_selects[(mask >> f) & 255u];
            std::uint64_t bits[8];
            for (std::size_t j = 0; j < 8; ++j) bits[j] = (p[f + j] & select[j]) | (a[f + j] & ~select[j]);
            std::memcpy(out + f, bits, sizeof bits);
          }
        for (; f < d; ++f) {
          const std::uint64_t select = std::uint64_t{0} - ((mask >> player[f]) & 1u);
          const std::uint64_t bits = (p[f] & select) | (a[f] & ~select);
          std::memcpy(out + f, &bits, sizeof bits);
        }
      }
    }
  }

  // d value / d z_p = mean over baseline rows of sum_{f in p} (x_f - b_f) d model / d input_f.
  void pull_back(const vector& x, const matrix& z, const matrix& input_gradients, matrix& out) const {
    const index rows = background_.rows();
    const index d = background_.cols();
    if (rows == 1 && groups_.one_per_feature()) {  // as in map(): one vectorised expression
      out.resize(z.rows(), z.cols());
      out.array() = input_gradients.array().rowwise() * (x.transpose() - background_.row(0)).array();
      return;
    }
    out = matrix::Zero(z.rows(), z.cols());
    // One flat pass over the gradient rows, as map() builds them.
    const index* player = groups_.player_of_features().data();
    const double* xs = x.data();
    for (index i = 0; i < z.rows(); ++i) {
      double* oi = &out(i, 0);
      for (index r = 0; r < rows; ++r) {
        const double* g = &input_gradients(i * rows + r, 0);
        const double* b = &background_(r, 0);
        for (index f = 0; f < d; ++f) oi[player[f]] += (xs[f] - b[f]) * g[f];
      }
    }
    out /= static_cast<double>(rows);
  }

 private:
  matrix background_;
  feature_groups groups_;
};

static_assert(differentiable_perturbation_for<masking, vector>);
static_assert(coalition_perturbation_for<masking, vector>);

}  // namespace attrib
