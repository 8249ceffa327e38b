#pragma once
// The MPI implementation of rank_group (rank_group.hpp): the ranks of MPI_COMM_WORLD, agreeing
// and gathering through attrib::mpi. Only main.cpp, built with ATTRIB_WITH_MPI, includes it and
// installs one for the run.
#include <string>
#include <vector>

#include "across_ranks.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/communicator.hpp"
#include "rank_group.hpp"

namespace cli {

class ranks_over_mpi final : public rank_group {
 public:
  int rank() const override { return comm_.rank(); }
  int size() const override { return comm_.size(); }
  void agree() const override { attrib::mpi::agree(comm_); }
  std::vector<std::string> gather(const std::string& mine) const override { return comm_.gather(mine); }

 private:
  attrib::mpi::communicator comm_ = command_communicator();
};

}  // namespace cli
