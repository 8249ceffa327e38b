#pragma once
// Agreeing on failure, so that a rank that throws stops every rank with its message and none
// waits forever in a collective the failed rank will never reach.
//
// The protocol: every rank calls agree() at the same points of a run (each distributed call in
// attrib::mpi does, after its local work and before it communicates), saying whether it failed
// and why. If any rank failed, every rank throws the same collective_error, naming the first
// failed rank and its message; nobody communicates afterwards. A rank that fails between those
// points (reading its input, say) catches the error where the program handles errors and calls
// agree() with the message there: that call meets the others' next agree(). A program therefore
// ends a successful run with one last agree(), which a late failure on another rank also meets.
// This is the "agreed error" of PETSc and LAMMPS (every rank checks a collective error flag)
// rather than MPI_Abort, which would lose every rank's message but the first one printed.
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "attrib/mpi/communicator.hpp"

namespace attrib::mpi {

// A failure that every rank of the communicator knows of: thrown on all of them by the same
// agree(), so a handler must not call agree() again for it.
class collective_error : public std::runtime_error {
 public:
  collective_error(const std::string& what, int failed_rank)
      : std::runtime_error(what), failed_rank_(failed_rank) {}
  // The first rank that failed.
  int failed_rank() const { return failed_rank_; }

 private:
  int failed_rank_;
};

// Each rank passes its failure (nullopt: it succeeded). If any failed, every rank throws
// collective_error("rank R of P: message", R) for the lowest failed rank R, noting how many
// others failed too.
inline void agree(const communicator& c, const std::optional<std::string>& failure = std::nullopt) {
  if (!c.distributed()) {
    if (failure) throw collective_error(*failure, 0);
    return;
  }
  // One byte of status ('+' ok, '!' failed), then the message.
  const std::vector<std::string> all = c.allgather(failure ? "!" + *failure : std::string("+"));
  int first = -1, failed = 0;
  for (std::size_t r = 0; r < all.size(); ++r)
    if (!all[r].empty() && all[r][0] == '!') {
      if (first < 0) first = static_cast<int>(r);
      ++failed;
    }
  if (first < 0) return;
  std::string what = "rank " + std::to_string(first) + " of " + std::to_string(c.size()) + ": " +
                     all[static_cast<std::size_t>(first)].substr(1);
  if (failed > 1) what += " (and " + std::to_string(failed - 1) + " more rank" + (failed > 2 ? "s" : "") + " failed)";
  throw collective_error(what, first);
}

// The message of the exception in flight, for agree(); call inside a catch block.
inline std::string current_failure() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// Runs f on every rank and agrees on the outcome: f's result where every rank succeeded, the
// same collective_error on every rank where one failed. With one process, f's exception
// propagates as it is.
template <class F>
std::invoke_result_t<F> agreed(const communicator& c, F&& f) {
  using result = std::invoke_result_t<F>;
  if (!c.distributed()) return std::forward<F>(f)();
  std::optional<result> out;
  std::optional<std::string> failure;
  try {
    out.emplace(std::forward<F>(f)());
  } catch (const collective_error&) {
    throw;  // already known to every rank
  } catch (...) {
    failure = current_failure();
  }
  agree(c, failure);
  return std::move(*out);
}

// Every rank must run the same build with the same arguments: a rank started with another binary
// or other options would compute another problem, or meet the others at another collective.
// `fingerprint` is whatever must match (version, options); every rank whose fingerprint differs
// from rank 0's is named, on every rank.
inline void agree_on(const communicator& c, const std::string& fingerprint, const std::string& what) {
  if (!c.distributed()) return;
  const std::vector<std::string> all = c.allgather(fingerprint);
  std::string differing;
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (!differing.empty())
    throw collective_error("rank" + std::string(differing.find(',') == std::string::npos ? " " : "s ") + differing +
                               " of " + std::to_string(c.size()) + " started with other " + what +
                               " than rank 0; expected every rank to run the same",
                           std::stoi(differing));
}

}  // namespace attrib::mpi
