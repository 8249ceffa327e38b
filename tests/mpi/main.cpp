// doctest under MPI: every rank runs every test case (the cases are collective), between one
// MPI_Init and one MPI_Finalize.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "attrib/mpi/environment.hpp"

int main(int argc, char** argv) {
  attrib::mpi::environment mpi(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
