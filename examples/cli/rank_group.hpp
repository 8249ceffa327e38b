#pragma once
// The processes an `attrib llm` command spreads its work over, seen through byte strings. The llm
// sources compile without MPI: llm_study.cpp is built once into an object library that the Python
// module links too, where there is no MPI. So they reach the ranks through this interface, which
// is one process unless main() installs the MPI implementation (ranks_over_mpi.hpp) when the tool
// runs under a launcher. explain and data, compiled with MPI, take the policy objects of
// processes.hpp instead.
//
// The agreement protocol is attrib::mpi's (attrib/mpi/agreement.hpp): a rank that fails throws,
// and main() agrees with its message where it handles errors; that meets the other ranks' next
// checkpoint (agree() here), where every rank stops with the failed rank's message.
#include <climits>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/shards.hpp"
#include "attrib/core/types.hpp"

namespace cli {

class rank_group {
 public:
  virtual ~rank_group() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool is_root() const { return rank() == 0; }
  bool distributed() const { return size() > 1; }
  // A checkpoint every rank reaches: returns when every rank has succeeded, throws on every rank
  // when one has failed.
  virtual void agree() const = 0;
  // Every rank's bytes in rank order on rank 0, an empty vector elsewhere; after an agree().
  virtual std::vector<std::string> gather(const std::string& mine) const = 0;
};

class one_process final : public rank_group {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void agree() const override {}
  std::vector<std::string> gather(const std::string& mine) const override { return {mine}; }
};

namespace detail {
inline const rank_group*& installed_rank_group() {
  static const rank_group* installed = nullptr;
  return installed;
}
}  // namespace detail

// The ranks of the running command: one process unless main() installed others.
inline const rank_group& command_ranks() {
  static const one_process single;
  const rank_group* installed = detail::installed_rank_group();
  return installed != nullptr ? *installed : single;
}

// `ranks` must outlive the command.
inline void install_rank_group(const rank_group& ranks) { detail::installed_rank_group() = &ranks; }

// Items [0, items) cut into shards by their count alone (attrib::shard_plan, one item a shard),
// each rank taking its contiguous run [first, last) and computing it with one call of
// block(first, last), which returns the run's results as bytes (so a rank keeps the batching of
// one process inside its run). Rank 0 receives every rank's bytes in rank order, which is item
// order; the other ranks an empty vector. With one process: {block(0, items)}.
// Communication: the bytes of every item but rank 0's, once, to rank 0.
template <class Block>
std::vector<std::string> gather_item_runs(const rank_group& ranks, attrib::index items, Block&& block) {
  const auto [first, last] = attrib::shard_plan::of(items).items_of(ranks.rank(), ranks.size());
  std::string mine = block(first, last);
  // MPI counts are ints: an oversized share fails here, before the checkpoint, so every rank
  // stops with the message instead of one aborting inside the gather.
  attrib::detail::require(mine.size() <= static_cast<std::size_t>(INT_MAX),
                          "this rank's share of the results is " + std::to_string(mine.size()) +
                              " bytes; expected at most " + std::to_string(INT_MAX) + " (use more ranks)");
  ranks.agree();
  return ranks.gather(mine);
}

// Doubles as the bytes gather_item_runs carries, bit for bit (every rank runs the same build:
// main() checks that first), and back, appended to `into`.
inline std::string bytes_of(const std::vector<double>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
}

inline void append_doubles(const std::string& bytes, std::vector<double>& into) {
  attrib::detail::require(bytes.size() % sizeof(double) == 0,
                          "a rank sent " + std::to_string(bytes.size()) +
                              " bytes of results; expected whole doubles (do all ranks run the same build?)");
  const std::size_t at = into.size();
  into.resize(at + bytes.size() / sizeof(double));
  std::memcpy(into.data() + at, bytes.data(), bytes.size());
}

}  // namespace cli
