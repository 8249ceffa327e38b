#pragma once
// How a command's work is spread: the policy explain_rows and run_data_method take. in_process
// is the one-process policy (the default, and the Python module's); across_ranks.hpp is the MPI
// one, with the same members, used by the attrib tool when built with ATTRIB_WITH_MPI.
//   rank(), size(), is_root()         this process among those running the command
//   share(count)                      how many of count instances this process explains
//   explain_instances(m, n, g, s)     attrib::explain_instances; the results on the root
//   shard_rows(plan, columns, block)  rows computed shard by shard (core/shards.hpp), on the root
//   sum_shards(plan, rows, cols, b)   the sum of b(begin, end) over the shards, in shard order, everywhere
//   explain_game(m, g, s)             m.explain(g, s), the game evaluations spread (mpi/explain_game.hpp)
//   on_root(f)                        f() computed by the root alone, for methods not sharded
//   agree()                           a checkpoint: stops every process if one has failed
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/explain_instances.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"

namespace cli {

struct in_process {
  int rank() const { return 0; }
  int size() const { return 1; }
  bool is_root() const { return true; }
  attrib::index share(attrib::index count) const { return count; }

  template <class Method, class MakeGame>
  std::vector<attrib::attribution> explain_instances(const Method& method, attrib::index count, MakeGame&& make_game,
                                                     const attrib::run_settings& settings) const {
    return attrib::explain_instances(method, count, make_game, settings);
  }

  template <class Block>
  attrib::matrix shard_rows(const attrib::shard_plan& plan, attrib::index columns, Block&& block) const {
    return attrib::stack_shards(plan, 0, plan.shards, columns, block);
  }

  template <class Block>
  attrib::matrix sum_shards(const attrib::shard_plan& plan, attrib::index rows, attrib::index cols,
                            Block&& block) const {
    return attrib::sum_shards(plan, rows, cols, block);
  }

  template <class Method, class Game>
  attrib::attribution explain_game(const Method& method, const Game& game, const attrib::run_settings& settings) const {
    return method.explain(game, settings);
  }

  template <class F>
  attrib::matrix on_root(F&& f) const {
    return f();
  }

  void agree() const {}
};

}  // namespace cli
