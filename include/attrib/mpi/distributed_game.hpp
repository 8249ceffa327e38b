#pragma once
// attrib::mpi::distributed_game: any game with its values spread over the ranks, so that every
// estimator of the framework (exact Shapley, KernelSHAP, permutation sampling, Banzhaf, LIME,
// occlusion, datamodels, COAR's random ablations) runs distributed unchanged. Every rank runs the
// same estimator with the same seed, so every rank asks for the same batches of coalitions in the
// same order; each call's rows are cut by their count alone (shard_plan), each rank evaluates its
// contiguous run, and the values are allgathered in row order, so every rank continues from the
// same numbers and the estimator's result is the one process's.
//
// Bit-identical to one process when a row's value does not depend on the other rows of its batch:
// true of the transformer's component and edge games (fixed-order kernels, a row per coalition),
// of data games (one retraining per row) and of the GNN games; a model evaluated through Eigen's
// products may differ in the last bits, since Eigen chooses its product kernel by the batch size.
//
// Worth it where a value is expensive - a retraining, a transformer forward pass - and batches are
// wide. Estimators that ask for one coalition at a time (ACDC, TMC Shapley's scans) gain nothing:
// their rows land on rank 0 (attrib::mpi::explain_game spreads TMC's permutations instead).
// Communication: 8 bytes per row to every rank, and one agreement, per call of values().
//
// Run the estimator with threads = 1: its worker threads would call values() concurrently and in
// an order that differs between ranks, and the ranks' collectives would cross. The ranks are the
// parallelism here; the game's own threads (a transformer game's options.threads) still apply.
// A call from another thread than the one that built the wrapper is refused.
#include <string>
#include <thread>

#include "attrib/concepts/game.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"

namespace attrib::mpi {

template <game G>
class distributed_game {
 public:
  // Holds references to `comm` and `game`, which must outlive it.
  distributed_game(const communicator& comm, const G& game)
      : comm_(&comm), game_(&game), owner_(std::this_thread::get_id()) {}

  index player_count() const { return game_->player_count(); }
  index model_evaluations_per_value() const
    requires costed_game<G>
  {
    return game_->model_evaluations_per_value();
  }
  const G& game() const { return *game_; }

  // The values of every row of `points`, on every rank. A rank whose rows fail stops every rank
  // with its message (collective_error).
  vector values(const matrix& points) const {
    attrib::detail::require(std::this_thread::get_id() == owner_,
                            "distributed_game: values() called from a worker thread; run the estimator with threads = 1 "
                            "(the ranks are the parallelism; the game's own threads still apply)");
    if (points.rows() == 0) return vector();
    const auto [first, last] = shard_plan::of(points.rows()).items_of(comm_->rank(), comm_->size());
    const communicator::row_major mine = agreed(*comm_, [&, first = first, last = last] {
      const vector v = last > first ? vector(game_->values(points.middleRows(first, last - first))) : vector();
      attrib::detail::require(v.size() == last - first, "distributed_game: the game returned " + std::to_string(v.size()) +
                                                            " values for " + std::to_string(last - first) + " rows");
      return communicator::row_major(v);
    });
    return comm_->allgather_rows(mine, 1).col(0);
  }

 private:
  const communicator* comm_;
  const G* game_;
  std::thread::id owner_;
};

}  // namespace attrib::mpi
