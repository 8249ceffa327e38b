#pragma once
// attrib::mpi::environment: MPI's lifetime as an object (MPI_Init_thread in the constructor,
// MPI_Finalize in the destructor, both skipped when the program manages MPI itself), and whether
// this process was started by an MPI launcher at all.
//
// A program that may run either way (the attrib tool) starts MPI only under a launcher: a
// singleton MPI_Init would start OpenMPI's runtime daemon for every plain run.
#include <mpi.h>

#include <cstdlib>

namespace attrib::mpi {

// True when an MPI launcher started this process: mpirun/mpiexec of OpenMPI (OMPI_COMM_WORLD_SIZE),
// of MPICH, Intel MPI and MVAPICH (PMI_RANK, PMI_SIZE), and Slurm's srun with PMIx or PMI-2
// (PMIX_RANK, PMI_RANK).
inline bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

class environment {
 public:
  // Worker threads never call MPI (every collective runs on the thread that made the call), so
  // MPI_THREAD_FUNNELED is all attrib asks for.
  environment(int& argc, char**& argv) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) return;
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    owns_ = true;
  }
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;
  ~environment() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owns_ && !finalised) MPI_Finalize();
  }

 private:
  bool owns_ = false;
};

}  // namespace attrib::mpi
