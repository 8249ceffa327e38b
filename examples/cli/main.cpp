// attrib: the command-line face of the library. Each subcommand is a thin layer over the
// headers: parse options, load files, call one library function, write CSV.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"

#ifdef ATTRIB_WITH_MPI
#include <optional>
#include <streambuf>

#include "across_ranks.hpp"
#include "attrib/mpi/agreement.hpp"
#include "attrib/mpi/environment.hpp"
#include "rank_group.hpp"
#include "ranks_over_mpi.hpp"
#endif

#ifndef ATTRIB_VERSION
#define ATTRIB_VERSION "unknown"
#endif

namespace {

const char* usage = R"(usage: attrib <command> [options]

commands:
  explain   feature attributions of a saved model for the rows of a CSV file
  train     fit a model (mlp, logistic or linear regression) on a CSV and save it
  data      data-attribution scores of training points for test rows (influence, TRAK, LOO, ...);
            'data split' splits a labelled table into training and test files
  graph     train a GCN or GIN on a TU-format graph dataset; explain a graph node by node (HN value, ...)
  llm       inspect, run, trace, patch and attribute a transformer checkpoint (.gguf, llama2.c .bin
            or a Hugging Face directory); 'llm study' compares a base model with its
            post-trained versions

Run 'attrib <command> --help' (or -h) for the options of a command, 'man attrib' for all of them;
'attrib --version' for the version. Options take a value as '--name value' or '--name=value'; '-'
as an input table is standard input, as an output file standard output. Exit status: 0 on
success, 1 when an input is refused or a run fails, 2 for a usage error.
)";

int run(const std::string& command, const std::vector<std::string>& args) {
  if (command == "explain") return cli::explain(args);
  if (command == "train") return cli::train(args);
  if (command == "data") return cli::data(args);
  if (command == "llm") return cli::llm(args);
  if (command == "graph") return cli::graph(args);
  std::cerr << "attrib: unknown command '" << command << "'\n" << usage;
  return 2;
}

#ifdef ATTRIB_WITH_MPI
// Under an MPI launcher every rank runs the command: explain, data and llm spread their work over
// the ranks (llm patch, llm noise-trace, llm study's tracing and llm components' coalition methods; the other
// studies and component methods run on rank 0 while the rest wait); train and graph are not distributed yet, and refuse rather than run
// once per rank, as do the llm commands that llm.cpp names.
// Only rank 0 prints and writes; an error on any rank stops every rank with that rank's message
// (attrib/mpi/agreement.hpp), and each rank prints it.
int run_on_ranks(const std::string& command, const std::vector<std::string>& args) {
  attrib::mpi::communicator& comm = cli::command_communicator();
  std::streambuf* const out = std::cout.rdbuf();
  std::streambuf* const err = std::cerr.rdbuf();
  std::ostream unused(nullptr);
  auto speak = [&] {
    std::cout.rdbuf(out);
    std::cerr.rdbuf(err);
  };
  if (!comm.is_root()) {
    std::cout.rdbuf(unused.rdbuf());
    std::cerr.rdbuf(unused.rdbuf());
  }
  int status = 1;
  try {
    try {
      // Ranks started with another build or other arguments would compute another problem.
      std::string fingerprint = std::string("attrib ") + ATTRIB_VERSION + " (" + __VERSION__ + ")";
      for (const std::string& arg : args) fingerprint += '\0' + arg;
      attrib::mpi::agree_on(comm, fingerprint, "arguments or another attrib build");
      if (comm.distributed() && command != "explain" && command != "data" && command != "llm")
        throw cli::usage_error(
            "runs on one process only (explain, data and llm run distributed); start it without mpirun");
      status = run(command, args);
      attrib::mpi::agree(comm);  // meets a late failure of another rank
    } catch (const attrib::mpi::collective_error&) {
      throw;
    } catch (const cli::usage_error&) {
      status = 2;
      attrib::mpi::agree(comm, attrib::mpi::current_failure());
    } catch (...) {
      status = 1;
      attrib::mpi::agree(comm, attrib::mpi::current_failure());
    }
  } catch (const attrib::mpi::collective_error& e) {
    speak();
    std::cerr << "attrib " << command << ": " << e.what() << std::endl;
    // mpirun ends the job when the first rank exits with an error: every rank prints first.
    comm.barrier();
    return status == 2 ? 2 : 1;
  } catch (const std::exception& e) {
    // The agreement itself failed: nothing is left to agree with, so end every rank.
    speak();
    std::cerr << "attrib " << command << ": rank " << comm.rank() << ": " << e.what() << "\n";
    MPI_Abort(comm.handle(), 1);
  }
  speak();
  return status;
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef ATTRIB_WITH_MPI
  std::optional<attrib::mpi::environment> mpi;
  if (attrib::mpi::launched_by_mpi()) {
    mpi.emplace(argc, argv);
    cli::command_communicator() = attrib::mpi::communicator::world();
  }
  // The llm commands reach the ranks through rank_group (they compile without MPI).
  const cli::ranks_over_mpi ranks;
  cli::install_rank_group(ranks);
#endif
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "--version" || command == "-V") {
    std::cout << "attrib " << ATTRIB_VERSION << "\n";
    return 0;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
#ifdef ATTRIB_WITH_MPI
  if (cli::command_communicator().distributed()) return run_on_ranks(command, args);
#endif
  try {
    return run(command, args);
  } catch (const cli::usage_error& e) {
    std::cerr << "attrib " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "attrib " << command << ": " << e.what() << "\n";
    return 1;
  }
}
