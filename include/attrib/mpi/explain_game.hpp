#pragma once
// attrib::mpi::explain_game: one game's attribution with its game evaluations spread over the
// ranks. Where each value is a retraining (a data_game: Data Shapley, Data Banzhaf), the
// evaluations are the whole cost, and they are independent: a permutation of TMC Shapley is
// drawn from rng::stream(seed, k) and scanned by itself, a coalition of MSR Banzhaf is one row of
// a sample every rank draws identically from the seed. So the ranks split them in fixed shards
// (shard_plan over the permutations of a wave, over the sampled coalitions), compute their own,
// and allgather the results in shard order; every rank then finishes the same computation on the
// same numbers, and the attribution equals method.explain(g, settings) bit for bit on any number
// of ranks and threads. Nothing is summed across ranks: the means over permutations and samples
// are taken after the gather, in the single-process order.
//
// Communication: TMC Shapley, per wave of w <= 64 permutations, 8 (n + 2) bytes per permutation
// to every rank (its n marginal contributions and two counts) and one agreement; MSR Banzhaf, 8
// bytes per sampled coalition to every rank, once. Both endpoint values (v(empty), v(N)) are
// computed by every rank: two evaluations, which also fix the truncation threshold everywhere.
#include <concepts>
#include <cstddef>
#include <vector>

#include "attrib/concepts/game.hpp"
#include "attrib/concepts/local_approximation.hpp"
#include "attrib/core/attribution.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"
#include "attrib/losses/squared_error.hpp"
#include "attrib/methods/feature/banzhaf.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"
#include "attrib/solvers/evaluate_points.hpp"
#include "attrib/solvers/maximum_sample_reuse.hpp"
#include "attrib/solvers/truncated_permutation_sampling.hpp"

namespace attrib::mpi {

namespace detail {

// The permutations [first, first + count) of a wave cut into count shards of one permutation,
// a run of them per rank; every estimate then on every rank, in permutation order (each rank
// needs the evaluations spent to size the next wave).
struct permutations_across_ranks {
  const communicator* comm;

  template <class RunOne>
  std::vector<attrib::detail::permutation_estimate> operator()(std::size_t first, std::size_t count, index players,
                                                               std::size_t threads, const RunOne& run_one) const {
    const auto range = shard_plan::of(static_cast<index>(count)).items_of(comm->rank(), comm->size());
    const index b = range.first, e = range.second;
    const index columns = players + 2;  // the contributions, evaluations, positions sampled
    // Everything that can fail on one rank (the retrainings) happens before the agreement.
    const communicator::row_major mine = agreed(*comm, [&] {
      const std::vector<attrib::detail::permutation_estimate> local = attrib::detail::local_permutations{}(
          first + static_cast<std::size_t>(b), static_cast<std::size_t>(e - b), players, threads, run_one);
      communicator::row_major rows(e - b, columns);
      for (index k = 0; k < e - b; ++k) {
        const auto& estimate = local[static_cast<std::size_t>(k)];
        rows.row(k).head(players) = estimate.values.transpose();
        rows(k, players) = static_cast<double>(estimate.evaluations);  // exact: below 2^53
        rows(k, players + 1) = static_cast<double>(estimate.sampled);
      }
      communicator::count_of(static_cast<std::size_t>(rows.size()), "explain_game");
      return rows;
    });
    const matrix all = comm->allgather_rows(mine, columns);
    std::vector<attrib::detail::permutation_estimate> out(count);
    for (std::size_t k = 0; k < count; ++k) {
      const auto r = static_cast<index>(k);
      out[k].values = all.row(r).head(players).transpose();
      out[k].evaluations = static_cast<std::size_t>(all(r, players));
      out[k].sampled = static_cast<index>(all(r, players + 1));
    }
    return out;
  }
};

// The sampled coalitions cut into one shard each, a run of them per rank; every value then on
// every rank, in row order.
struct evaluation_across_ranks {
  const communicator* comm;

  template <game G>
  vector operator()(const G& g, const matrix& points, const run_settings& settings) const {
    const auto range = shard_plan::of(points.rows()).items_of(comm->rank(), comm->size());
    const index b = range.first, e = range.second;
    const communicator::row_major mine = agreed(*comm, [&] {
      communicator::row_major values =
          attrib::detail::evaluate_points(g, matrix(points.middleRows(b, e - b)), settings);
      communicator::count_of(static_cast<std::size_t>(values.size()), "explain_game");
      return values;
    });
    return comm->allgather_rows(mine, 1).col(0);
  }
};

}  // namespace detail

// Permutation sampling, truncated or not, of any semivalue (tmc_shapley, truncated_semivalue<W>,
// sampled_semivalue<W>). The result is on every rank.
template <class N, class S, game G>
  requires std::same_as<S, truncated_permutation_sampling> || std::same_as<S, weighted_permutation_sampling>
attribution explain_game(const communicator& c, const local_approximation<N, squared_error, S>& method, const G& g,
                         const run_settings& settings = {}) {
  return approximation_solver<N, squared_error, S>::solve(method.neighborhood, method.loss, method.solver, g, settings,
                                                          detail::permutations_across_ranks{&c});
}

// Banzhaf by maximum sample reuse (msr_banzhaf). The result is on every rank.
template <game G>
attribution explain_game(const communicator& c, const msr_banzhaf& method, const G& g,
                         const run_settings& settings = {}) {
  return approximation_solver<uniform_coalitions, squared_error, maximum_sample_reuse>::solve(
      method.neighborhood, method.loss, method.solver, g, settings, detail::evaluation_across_ranks{&c});
}

}  // namespace attrib::mpi
