#pragma once
// attrib::mpi::sum_shards: a sum over items (a Hessian as the sum over training shards of their
// weighted Hessians) computed in shards (core/shards.hpp) spread over the ranks, added on rank 0
// in shard order and shared with every rank. MPI_Reduce is not used: its order of additions
// depends on the rank count and the network, and floating-point addition is not associative.
// Here every shard's block reaches rank 0, which adds them exactly as the single-process
// attrib::sum_shards does, so the sum is the same bits on one process and on any number of ranks.
//
// Communication: 8 rows cols bytes per shard to rank 0 (each rank sends its shards' blocks), then
// 8 rows cols bytes from rank 0 to every rank. Rank 0 holds every block at once: plans with few
// shards (a cap of 16 for a p x p Hessian) keep that to 8 rows cols shards bytes.
#include <utility>

#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"

namespace attrib::mpi {

// block(b, e) returns the rows x cols term of items b .. e-1. Returns the sum on every rank; a
// rank whose block throws stops every rank with its message.
template <class Block>
matrix sum_shards(const communicator& c, const shard_plan& plan, index rows, index cols, Block&& block) {
  if (!c.distributed()) return attrib::sum_shards(plan, rows, cols, block);
  const std::pair<index, index> range = plan.shards_of(c.rank(), c.size());
  const index first = range.first, last = range.second;
  const index size = rows * cols;
  // Row k: the k-th of this rank's blocks, its entries in column-major order. Everything that can
  // fail on one rank happens before the agreement.
  const communicator::row_major mine = agreed(c, [&] {
    attrib::detail::require(plan.shards >= 1, "sum_shards: the plan has no shard; expected at least one item");
    communicator::count_of(static_cast<std::size_t>(size), "sum_shards");
    communicator::row_major pieces(0, size);
    for (index s = first; s < last; ++s) {
      const index b = plan.begin(s), e = plan.end(s);
      if (b == e) continue;  // as attrib::sum_shards skips it
      const matrix piece = block(b, e);
      attrib::detail::require(piece.rows() == rows && piece.cols() == cols,
                      "sum_shards: shard " + std::to_string(s) + " returned a " + std::to_string(piece.rows()) +
                          " x " + std::to_string(piece.cols()) + " block; expected " + std::to_string(rows) + " x " +
                          std::to_string(cols));
      pieces.conservativeResize(pieces.rows() + 1, size);
      pieces.row(pieces.rows() - 1) = Eigen::Map<const Eigen::RowVectorXd>(piece.data(), size);
    }
    communicator::count_of(static_cast<std::size_t>(pieces.size()), "sum_shards");
    return pieces;
  });
  const matrix all = c.gather_rows(mine, size);
  matrix total;
  if (c.is_root()) {
    index next = 0;  // the gathered blocks are in shard order: rank order, then each rank's shards
    total = attrib::sum_shards(plan, rows, cols, [&](index, index) {
      const Eigen::RowVectorXd flat = all.row(next++);
      return matrix(Eigen::Map<const matrix>(flat.data(), rows, cols));
    });
  }
  return c.broadcast(total, rows, cols);
}

}  // namespace attrib::mpi
