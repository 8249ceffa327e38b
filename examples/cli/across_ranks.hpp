#pragma once
// The MPI policy of the attrib tool (in_process.hpp lists the members): instances, training
// shards and game evaluations spread over the ranks of MPI_COMM_WORLD through attrib::mpi,
// results on rank 0. Only translation units built with ATTRIB_WITH_MPI include it.
#include <utility>
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"
#include "attrib/mpi/explain_game.hpp"
#include "attrib/mpi/explain_instances.hpp"
#include "attrib/mpi/shard_rows.hpp"
#include "attrib/mpi/sum_shards.hpp"

namespace cli {

// The communicator of the running command: one process unless main() started MPI under a
// launcher.
inline attrib::mpi::communicator& command_communicator() {
  static attrib::mpi::communicator c;
  return c;
}

struct across_ranks {
  attrib::mpi::communicator comm = command_communicator();

  int rank() const { return comm.rank(); }
  int size() const { return comm.size(); }
  bool is_root() const { return comm.is_root(); }
  attrib::index share(attrib::index count) const {
    const auto range = attrib::shard_plan::of(count).items_of(comm.rank(), comm.size());
    return range.second - range.first;
  }

  template <class Method, class MakeGame>
  std::vector<attrib::attribution> explain_instances(const Method& method, attrib::index count, MakeGame&& make_game,
                                                     const attrib::run_settings& settings) const {
    return attrib::mpi::explain_instances(comm, method, count, make_game, settings);
  }

  template <class Block>
  attrib::matrix shard_rows(const attrib::shard_plan& plan, attrib::index columns, Block&& block) const {
    return attrib::mpi::gather_shard_rows(comm, plan, columns, block);
  }

  // Added on rank 0 in shard order, the sum then on every rank (mpi/sum_shards.hpp).
  template <class Block>
  attrib::matrix sum_shards(const attrib::shard_plan& plan, attrib::index rows, attrib::index cols,
                            Block&& block) const {
    return attrib::mpi::sum_shards(comm, plan, rows, cols, block);
  }

  // The result on every rank (each continues the same computation from the gathered values).
  template <class Method, class Game>
  attrib::attribution explain_game(const Method& method, const Game& game, const attrib::run_settings& settings) const {
    return attrib::mpi::explain_game(comm, method, game, settings);
  }

  // The other ranks wait at the agreement, so a failure on the root stops them too.
  template <class F>
  attrib::matrix on_root(F&& f) const {
    return attrib::mpi::agreed(comm, [&] { return comm.is_root() ? attrib::matrix(f()) : attrib::matrix(); });
  }

  void agree() const { attrib::mpi::agree(comm); }
};

}  // namespace cli
