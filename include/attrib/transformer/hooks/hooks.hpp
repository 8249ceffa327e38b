#pragma once
// Named points in a transformer's forward pass and an algebra of interventions on the activations
// that pass through them: read into a cache, replace (from a cache filled by another run, of this
// model or of another model of the same width), add a vector, project out a direction, scale, or
// call a function. Each intervention selects tokens by batch row and position; several on one
// point apply in the order they were added. The model calls the hooks for every token it
// computes, on the prompt and on every KV-cached generation step alike.
//
// Names and their TransformerLens and Hugging Face equivalents: docs/transformer-hooks.md.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <compare>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Where a row of activations comes from: a batch row and a position in that row's sequence.
struct token_location {
  index row = 0;
  index position = 0;
};

// Which tokens an intervention touches. An empty list selects everything along that axis.
struct token_selector {
  std::vector<index> rows;
  std::vector<index> positions;

  bool selects(token_location t) const {
    auto has = [](const std::vector<index>& v, index x) {
      return v.empty() || std::find(v.begin(), v.end(), x) != v.end();
    };
    return has(rows, t.row) && has(positions, t.position);
  }
};

// Activations recorded per (hook point, batch row): a positions x width matrix that grows as a
// sequence is computed, prompt first and then each generated token.
class activation_cache {
 public:
  bool contains(hook_point p, index row, index position) const {
    const auto it = entries_.find({p, row});
    return it != entries_.end() && position >= 0 &&
           position < static_cast<index>(it->second.filled.size()) &&
           it->second.filled[static_cast<std::size_t>(position)];
  }

  // All recorded positions of `row` at `p`; positions never recorded hold NaN.
  const float_matrix& at(hook_point p, index row) const {
    const auto it = entries_.find({p, row});
    if (it == entries_.end())
      throw invalid_argument("activation_cache: nothing recorded at " + to_string(p) +
                             " for batch row " + std::to_string(row));
    return it->second.values;
  }

  // One position's activation; throws invalid_argument when it was not recorded.
  Eigen::Map<const float_vector> at(hook_point p, index row, index position) const {
    if (!contains(p, row, position))
      throw invalid_argument("activation_cache: nothing recorded at " + to_string(p) +
                             " for batch row " + std::to_string(row) + ", position " +
                             std::to_string(position));
    const auto& values = entries_.at({p, row}).values;
    return {values.row(position).data(), values.cols()};
  }

  void store(hook_point p, token_location t, const float* values, index width) {
    auto& e = entries_[{p, t.row}];
    if (e.values.cols() != width) {
      if (!e.filled.empty())
        throw invalid_argument("activation_cache: width of " + to_string(p) + " changed from " +
                               std::to_string(e.values.cols()) + " to " + std::to_string(width));
      e.values.resize(0, width);
    }
    if (t.position >= e.values.rows()) {
      const index old_rows = e.values.rows();
      const index new_rows = std::max(t.position + 1, 2 * old_rows);
      e.values.conservativeResize(new_rows, width);
      e.values.bottomRows(new_rows - old_rows).setConstant(std::numeric_limits<float>::quiet_NaN());
      e.filled.resize(static_cast<std::size_t>(new_rows), false);
    }
    std::copy(values, values + width, e.values.row(t.position).data());
    e.filled[static_cast<std::size_t>(t.position)] = true;
  }

  // The batch rows recorded at `p`, in increasing order.
  std::vector<index> rows(hook_point p) const {
    std::vector<index> out;
    for (const auto& [key, entry] : entries_)
      if (key.first == p) out.push_back(key.second);
    return out;
  }

  void clear() { entries_.clear(); }

 private:
  struct entry {
    float_matrix values;
    std::vector<bool> filled;
  };
  std::map<std::pair<hook_point, index>, entry> entries_;
};

// A function hook sees the activations of the tokens being computed (one row each, modifiable)
// and where each came from.
using hook_function =
    std::function<void(hook_point, float_matrix& values, std::span<const token_location> tokens)>;

class hook_set {
 public:
  // Records the selected tokens' activations into `into`, which must outlive the runs.
  hook_set& cache(hook_point p, activation_cache& into, token_selector select = {}) {
    return add_op(p, std::move(select), cache_op{&into});
  }

  // Replaces each selected token's activation by the one `from` recorded at `source_point`
  // (default: p) for batch row `source_row` (default: the token's own row) and the token's
  // position plus `position_offset`. `from` may belong to another model of the same width, or be
  // filled earlier in the same run (a cache hook added before this one). A missing source
  // activation throws invalid_argument.
  hook_set& replace(hook_point p, const activation_cache& from, token_selector select = {},
                    std::optional<hook_point> source_point = std::nullopt,
                    std::optional<index> source_row = std::nullopt, index position_offset = 0) {
    return add_op(p, std::move(select),
                  replace_op{&from, source_point.value_or(p), source_row, position_offset});
  }

  // x += coefficient * v.
  hook_set& add(hook_point p, float_vector v, float coefficient = 1.0f,
                token_selector select = {}) {
    return add_op(p, std::move(select), add_op_t{std::move(v), coefficient});
  }

  // x -= (x . r) r with r = direction / |direction|, so that x . direction becomes zero.
  hook_set& project_out(hook_point p, const float_vector& direction, token_selector select = {}) {
    const float norm = direction.norm();
    if (!(norm > 0.0f) || !std::isfinite(norm))
      throw invalid_argument("hook_set::project_out at " + to_string(p) +
                             ": direction must be non-zero and finite");
    return add_op(p, std::move(select), project_op{direction / norm});
  }

  // x *= factor.
  hook_set& scale(hook_point p, float factor, token_selector select = {}) {
    return add_op(p, std::move(select), scale_op{factor});
  }

  // Calls f with the activations of every token computed at p (no selection: f sees them all).
  hook_set& call(hook_point p, hook_function f) {
    return add_op(p, token_selector{}, call_op{std::move(f)});
  }

  bool empty() const { return ops_.empty(); }
  bool active(hook_point p) const { return ops_.contains(p); }
  void clear() { ops_.clear(); }

  // Applies the interventions at `p`, in the order added, to `values` (one row per token).
  void apply(hook_point p, float_matrix& values, std::span<const token_location> tokens) const {
    const auto it = ops_.find(p);
    if (it == ops_.end()) return;
    for (const auto& op : it->second)
      std::visit([&](const auto& o) { run(p, op.select, o, values, tokens); }, op.action);
  }

 private:
  struct cache_op {
    activation_cache* into;
  };
  struct replace_op {
    const activation_cache* from;
    hook_point source;
    std::optional<index> source_row;
    index position_offset;
  };
  struct add_op_t {
    float_vector v;
    float coefficient;
  };
  struct project_op {
    float_vector unit;
  };
  struct scale_op {
    float factor;
  };
  struct call_op {
    hook_function f;
  };
  struct operation {
    token_selector select;
    std::variant<cache_op, replace_op, add_op_t, project_op, scale_op, call_op> action;
  };

  template <class Op>
  hook_set& add_op(hook_point p, token_selector select, Op op) {
    if (p.layer < 0) throw invalid_argument("hook point " + to_string(p) + ": negative layer");
    ops_[p].push_back({std::move(select), std::move(op)});
    return *this;
  }

  static void check_width(hook_point p, const float_matrix& values, index width, const char* what) {
    if (values.cols() != width)
      throw invalid_argument(std::string("hook ") + what + " at " + to_string(p) + ": vector has " +
                             std::to_string(width) + " entries, but the activation has " +
                             std::to_string(values.cols()));
  }

  template <class Body>
  static void each_selected(const token_selector& select, std::span<const token_location> tokens,
                            Body&& body) {
    for (std::size_t i = 0; i < tokens.size(); ++i)
      if (select.selects(tokens[i])) body(static_cast<index>(i), tokens[i]);
  }

  static void run(hook_point p, const token_selector& select, const cache_op& o,
                  float_matrix& values, std::span<const token_location> tokens) {
    each_selected(select, tokens, [&](index i, token_location t) {
      o.into->store(p, t, values.row(i).data(), values.cols());
    });
  }
  static void run(hook_point p, const token_selector& select, const replace_op& o,
                  float_matrix& values, std::span<const token_location> tokens) {
    each_selected(select, tokens, [&](index i, token_location t) {
      const auto source =
          o.from->at(o.source, o.source_row.value_or(t.row), t.position + o.position_offset);
      check_width(p, values, source.size(), "replace");
      values.row(i) = source.transpose();
    });
  }
  static void run(hook_point p, const token_selector& select, const add_op_t& o,
                  float_matrix& values, std::span<const token_location> tokens) {
    check_width(p, values, o.v.size(), "add");
    each_selected(select, tokens, [&](index i, token_location) {
      values.row(i) += o.coefficient * o.v.transpose();
    });
  }
  static void run(hook_point p, const token_selector& select, const project_op& o,
                  float_matrix& values, std::span<const token_location> tokens) {
    check_width(p, values, o.unit.size(), "project_out");
    each_selected(select, tokens, [&](index i, token_location) {
      const float along = values.row(i).dot(o.unit.transpose());
      values.row(i) -= along * o.unit.transpose();
    });
  }
  static void run(hook_point, const token_selector& select, const scale_op& o, float_matrix& values,
                  std::span<const token_location> tokens) {
    each_selected(select, tokens, [&](index i, token_location) { values.row(i) *= o.factor; });
  }
  static void run(hook_point p, const token_selector&, const call_op& o, float_matrix& values,
                  std::span<const token_location> tokens) {
    o.f(p, values, tokens);
  }

  std::map<hook_point, std::vector<operation>> ops_;
};

}  // namespace attrib
