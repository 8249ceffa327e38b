#pragma once
// attrib::mpi::gather_shard_rows: an items x columns matrix whose rows are computed in shards
// (core/shards.hpp) spread over the ranks, stacked on rank 0. The data attribution methods whose
// score row i depends on training point i alone (influence, TracIn, Grad-Dot, Grad-Cos: an inner
// product of point i's transformed gradient with the test side) become distributed blocks of the
// score matrix this way: every rank holds the model and the test side, computes the blocks of its
// training shards, and rank 0 receives them in shard order.
//
// The shards depend on the item count alone, and each block is computed by the same call
// wherever it runs, so rank 0's matrix is the single-process stack_shards result bit for bit.
// Communication: 8 columns bytes per item, once, to rank 0.
#include <utility>

#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"

namespace attrib::mpi {

// block(b, e) returns rows b .. e-1 (e - b rows, `columns` columns). Returns the whole matrix on
// rank 0, an empty one elsewhere; a rank whose block throws stops every rank with its message.
template <class Block>
matrix gather_shard_rows(const communicator& c, const shard_plan& plan, index columns, Block&& block) {
  const std::pair<index, index> range = plan.shards_of(c.rank(), c.size());
  const index first = range.first, last = range.second;  // lambdas capture variables, not bindings
  // Everything that can fail on one rank happens before the agreement: computing the blocks,
  // checking the message size, laying the rows out for the wire.
  const communicator::row_major mine = agreed(c, [&] {
    communicator::row_major rows = stack_shards(plan, first, last, columns, block);
    communicator::count_of(static_cast<std::size_t>(rows.size()), "gather_shard_rows");
    return rows;
  });
  return c.gather_rows(mine, columns);
}

}  // namespace attrib::mpi
