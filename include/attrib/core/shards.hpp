#pragma once
// Shards: a problem of n items (instances to explain, training points to score) cut into blocks
// whose boundaries depend on n alone - never on how many processes or threads share the work.
// Each block is computed by the same code whoever computes it, and the blocks are put together
// in shard order, so a result is bit-identical on one process and on any number of ranks
// (attrib/mpi/), as parallel_chunks makes it identical on any thread count.
//
// Processes take contiguous runs of shards (rank r of p: shards [r s / p, (r + 1) s / p)), so a
// rank's items are one contiguous range, gathered in rank order without reordering. With fewer
// shards than ranks some ranks hold none.
#include <algorithm>
#include <string>
#include <utility>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

struct shard_plan {
  index items = 0;
  index shards = 0;

  // ceil(items / grain) shards, but at most max_shards, their sizes one item apart at most: so
  // shards of at most `grain` items (at least grain / 2 when there are two or more) unless the
  // cap makes them larger. A block of rows scored by one matrix product wants a grain well above
  // one; an instance explained on its own is a shard of one.
  static shard_plan of(index items, index grain = 1, index max_shards = 4096) {
    detail::require(items >= 0, "shard_plan: the item count is " + std::to_string(items) + "; expected >= 0");
    detail::require(grain >= 1 && max_shards >= 1, "shard_plan: grain is " + std::to_string(grain) +
                                                      " and max_shards " + std::to_string(max_shards) +
                                                      "; expected both >= 1");
    return {items, std::min(max_shards, (items + grain - 1) / grain)};
  }

  // The first item of shard s; begin(shards) == items. (items * s fits in 64 bits for any table
  // that fits in memory: items < 2^40 and s <= max_shards.)
  index begin(index s) const { return shards == 0 ? 0 : items * s / shards; }
  index end(index s) const { return begin(s + 1); }

  // The shards [first, last) of process `rank` out of `ranks`.
  std::pair<index, index> shards_of(int rank, int ranks) const {
    detail::require(ranks >= 1 && rank >= 0 && rank < ranks, "shard_plan: rank " + std::to_string(rank) + " of " +
                                                                 std::to_string(ranks) +
                                                                 "; expected 0 <= rank < ranks");
    return {shards * rank / ranks, shards * (rank + 1) / ranks};
  }

  // The items [first, last) of process `rank` out of `ranks`.
  std::pair<index, index> items_of(int rank, int ranks) const {
    const auto [first, last] = shards_of(rank, ranks);
    return {begin(first), begin(last)};
  }
};

// Rows [begin(first), begin(last)) of an items x columns matrix, computed shard by shard:
// block(b, e) returns rows b .. e-1. The single-process form of a sharded computation; a
// distributed run computes each rank's run of shards with it and gathers them.
template <class Block>
matrix stack_shards(const shard_plan& plan, index first, index last, index columns, Block&& block) {
  const index b0 = plan.begin(first);
  matrix out(plan.begin(last) - b0, columns);
  for (index s = first; s < last; ++s) {
    const index b = plan.begin(s), e = plan.end(s);
    if (b == e) continue;
    const matrix rows = block(b, e);
    detail::require(rows.rows() == e - b && rows.cols() == columns,
                    "stack_shards: shard " + std::to_string(s) + " returned a " + std::to_string(rows.rows()) + " x " +
                        std::to_string(rows.cols()) + " block; expected " + std::to_string(e - b) + " x " +
                        std::to_string(columns));
    out.middleRows(b - b0, e - b) = rows;
  }
  return out;
}

// The sum over every shard of block(b, e), a rows x cols matrix each, added in shard order:
// ((0 + block_0) + block_1) + ... The single-process form of a sum over items (a Hessian
// as a sum over training shards): a distributed run computes the blocks on the ranks and adds
// them on rank 0 in the same order (attrib/mpi/sum_shards.hpp), never in an order that depends
// on the rank count, so the sum is the same bits on any number of ranks.
template <class Block>
matrix sum_shards(const shard_plan& plan, index rows, index cols, Block&& block) {
  detail::require(plan.shards >= 1, "sum_shards: the plan has no shard; expected at least one item");
  matrix total = matrix::Zero(rows, cols);
  for (index s = 0; s < plan.shards; ++s) {
    const index b = plan.begin(s), e = plan.end(s);
    if (b == e) continue;
    const matrix piece = block(b, e);
    detail::require(piece.rows() == rows && piece.cols() == cols,
                    "sum_shards: shard " + std::to_string(s) + " returned a " + std::to_string(piece.rows()) + " x " +
                        std::to_string(piece.cols()) + " block; expected " + std::to_string(rows) + " x " +
                        std::to_string(cols));
    total += piece;
  }
  return total;
}

}  // namespace attrib
