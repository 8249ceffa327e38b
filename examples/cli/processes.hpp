#pragma once
// The processes running this command: cli::processes() is the policy the commands pass to
// explain_rows and run_data_method - across_ranks (MPI) in a build with ATTRIB_WITH_MPI, else
// in_process. One switch here keeps the commands free of #ifdefs.
#ifdef ATTRIB_WITH_MPI
#include "across_ranks.hpp"
namespace cli {
using process_policy = across_ranks;
}  // namespace cli
#else
#include "in_process.hpp"
namespace cli {
using process_policy = in_process;
}  // namespace cli
#endif

namespace cli {
inline process_policy processes() { return {}; }
}  // namespace cli
