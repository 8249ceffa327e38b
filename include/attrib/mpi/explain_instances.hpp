#pragma once
// attrib::mpi::explain_instances: attrib::explain_instances across the ranks of a communicator.
// The instances are shards of one (core/shards.hpp); rank r explains its contiguous run with
// the local call (its threads sharing the run as they would share the whole set), and rank 0
// gathers the results in instance order. Every instance is explained by the same code with the
// caller's seed wherever it runs, so rank 0's results are those of the single-process call, bit
// for bit, for any number of ranks and threads.
//
// Communication: each rank sends its results once, about 8 (2 n + 12) bytes per instance of n
// players, and two agreements of one byte per rank.
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/explain_instances.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"
#include "attrib/io/detail/result_wire.hpp"

namespace attrib::mpi {

// Explains instances 0 .. count-1 over the ranks of `c`; every rank must call it with the same
// count. Returns the count results on rank 0 and nothing elsewhere. settings.progress reports
// this rank's instances (done, this rank's count). A rank whose instance throws stops every rank
// with collective_error naming that rank and the instance.
template <class Method, class MakeGame>
std::vector<attribution> explain_instances(const communicator& c, const Method& method, index count,
                                           MakeGame&& make_game, const run_settings& settings = {}) {
  const shard_plan plan = shard_plan::of(count);
  const std::pair<index, index> range = plan.items_of(c.rank(), c.size());
  const index first = range.first, last = range.second;  // lambdas capture variables, not bindings
  if (!c.distributed()) return attrib::explain_instances(method, first, last, make_game, settings);
  // Everything that can fail on one rank happens before the agreement: the explanations, their
  // serialisation, the message size.
  const std::string mine = agreed(c, [&] {
    std::string bytes = attrib::detail::to_wire(attrib::explain_instances(method, first, last, make_game, settings));
    communicator::count_of(bytes.size(), "explain_instances");
    return bytes;
  });
  const std::vector<std::string> parts = c.gather(mine);
  std::vector<attribution> all;
  if (c.is_root()) {
    all.reserve(static_cast<std::size_t>(count));
    for (const std::string& part : parts) attrib::detail::from_wire(part, all);
  }
  return all;
}

}  // namespace attrib::mpi
