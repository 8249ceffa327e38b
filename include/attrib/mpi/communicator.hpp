#pragma once
// attrib::mpi::communicator: the handle a distributed call takes, as a local call takes a thread
// count, and the few collectives attrib's distributed calls are built on (byte strings and row
// blocks gathered to rank 0 or to every rank, a matrix broadcast from rank 0). A
// default-constructed communicator is one process with no MPI at all: every collective is a
// local copy and MPI need not be initialised, so one code path serves a single process and a
// cluster.
//
// MPI errors abort the job (MPI's default handler on MPI_COMM_WORLD): a broken transport is not
// an input a program can recover from, and aborting never hangs. Input errors are agreed on
// instead (agreement.hpp).
#include <mpi.h>

#include <climits>
#include <cstdio>
#include <exception>
#include <cstddef>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib::mpi {

class communicator {
 public:
  // One process, no MPI.
  communicator() = default;

  // The processes of `comm`; MPI must be initialised (attrib::mpi::environment).
  explicit communicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  static communicator world() { return communicator(MPI_COMM_WORLD); }

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  // More than one process: collectives talk to others.
  bool distributed() const { return size_ > 1; }
  // MPI_COMM_NULL for the one-process communicator.
  MPI_Comm handle() const { return comm_; }

  // Returns once every rank has called it.
  void barrier() const {
    if (distributed()) MPI_Barrier(comm_);
  }

  // Every rank's `mine`, in rank order, on every rank.
  std::vector<std::string> allgather(const std::string& mine) const {
    if (!distributed()) return {mine};
    return inside_collective([&] {
      const int length = count_of(mine.size(), "allgather");
      std::vector<int> lengths(static_cast<std::size_t>(size_));
      MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm_);
      const std::vector<int> offsets = displacements(lengths, "allgather");
      std::string all(static_cast<std::size_t>(offsets.back() + lengths.back()), '\0');
      MPI_Allgatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, comm_);
      return split(all, lengths, offsets);
    });
  }

  // Every rank's `mine`, in rank order, on rank 0; an empty vector elsewhere.
  std::vector<std::string> gather(const std::string& mine) const {
    if (!distributed()) return {mine};
    return inside_collective([&]() -> std::vector<std::string> {
      const int length = count_of(mine.size(), "gather");
      std::vector<int> lengths(is_root() ? static_cast<std::size_t>(size_) : 0);
      MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, comm_);
      if (!is_root()) {
        MPI_Gatherv(mine.data(), length, MPI_CHAR, nullptr, nullptr, nullptr, MPI_CHAR, 0, comm_);
        return {};
      }
      const std::vector<int> offsets = displacements(lengths, "gather");
      std::string all(static_cast<std::size_t>(offsets.back() + lengths.back()), '\0');
      MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0, comm_);
      return split(all, lengths, offsets);
    });
  }

  // Row-major on the wire: a rank's rows are then one contiguous run of the stacked matrix.
  using row_major = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  // Every rank's rows stacked in rank order on rank 0 (all blocks have `columns` columns; a rank
  // may have none); an empty matrix elsewhere. Doubles travel bit for bit.
  matrix gather_rows(const row_major& rows, index columns) const { return stacked_rows(rows, columns, false); }

  // Every rank's rows stacked in rank order on every rank: what a computation that every rank
  // continues from (the next wave of a sampler) needs. As gather_rows, bit for bit.
  matrix allgather_rows(const row_major& rows, index columns) const { return stacked_rows(rows, columns, true); }

  // Rank 0's rows x cols matrix on every rank (the others pass any matrix); bit for bit. Every
  // rank must pass the same shape, and count_of(rows * cols) must hold (check it before agreeing).
  matrix broadcast(const matrix& m, index rows, index cols) const {
    if (!distributed()) return m;
    return inside_collective([&]() -> matrix {
      matrix out = is_root() ? m : matrix(rows, cols);
      detail::require(out.rows() == rows && out.cols() == cols,
                      "broadcast: rank 0's matrix is " + std::to_string(out.rows()) + " x " +
                          std::to_string(out.cols()) + "; expected " + std::to_string(rows) + " x " +
                          std::to_string(cols));
      MPI_Bcast(out.data(), count_of(static_cast<std::size_t>(out.size()), "broadcast"), MPI_DOUBLE, 0, comm_);
      return out;
    });
  }

  // MPI counts are ints: a message of 2^31 elements or more is refused by name rather than
  // truncated. Distributed calls check their messages with it before they agree (agreement.hpp),
  // so that an oversized share stops every rank with a message.
  static int count_of(std::size_t n, const char* who) {
    detail::require(n <= static_cast<std::size_t>(INT_MAX), std::string("attrib::mpi::communicator::") + who + ": " +
                                                                std::to_string(n) +
                                                                " elements from one rank; expected at most " +
                                                                std::to_string(INT_MAX) + " (use more ranks)");
    return static_cast<int>(n);
  }

 private:
  // An exception between the first and the last MPI call of a collective would leave the other
  // ranks waiting inside it; ending the job is the one way out that never hangs.
  template <class F>
  auto inside_collective(F&& f) const -> decltype(f()) {
    try {
      return f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "attrib::mpi: rank %d failed inside a collective: %s; aborting the job\n", rank_, e.what());
      MPI_Abort(comm_, 1);
      throw;
    }
  }

  // gather_rows (to rank 0) and allgather_rows (to every rank): the counts, then the rows.
  matrix stacked_rows(const row_major& rows, index columns, bool everywhere) const {
    if (!distributed()) return rows;
    const char* who = everywhere ? "allgather_rows" : "gather_rows";
    return inside_collective([&]() -> matrix {
      detail::require(rows.cols() == columns || rows.rows() == 0,
                      std::string(who) + ": this rank's block has " + std::to_string(rows.cols()) +
                          " columns; expected " + std::to_string(columns));
      const int count = count_of(static_cast<std::size_t>(rows.size()), who);
      const bool receives = everywhere || is_root();
      std::vector<int> counts(receives ? static_cast<std::size_t>(size_) : 0);
      if (everywhere)
        MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_);
      else
        MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm_);
      if (!receives) {
        MPI_Gatherv(rows.data(), count, MPI_DOUBLE, nullptr, nullptr, nullptr, MPI_DOUBLE, 0, comm_);
        return {};
      }
      const std::vector<int> offsets = displacements(counts, who);
      const index total = offsets.back() + counts.back();
      row_major all(columns == 0 ? 0 : total / columns, columns);
      if (everywhere)
        MPI_Allgatherv(rows.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, comm_);
      else
        MPI_Gatherv(rows.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, 0, comm_);
      return all;
    });
  }

  static std::vector<int> displacements(const std::vector<int>& counts, const char* who) {
    std::vector<int> out(counts.size(), 0);
    long long at = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      out[r] = static_cast<int>(at);
      at += counts[r];
      count_of(static_cast<std::size_t>(at), who);
    }
    return out;
  }

  static std::vector<std::string> split(const std::string& all, const std::vector<int>& lengths,
                                        const std::vector<int>& offsets) {
    std::vector<std::string> out;
    for (std::size_t r = 0; r < lengths.size(); ++r)
      out.push_back(all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lengths[r])));
    return out;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace attrib::mpi
