#pragma once
// Settings every attribution run takes, whatever the method.
#include <cstddef>
#include <cstdint>
#include <functional>

namespace attrib {

struct run_settings {
  std::uint64_t seed = 0;   // every random draw derives from it; same seed, same result
  std::size_t threads = 1;  // worker threads for game evaluations; 0 means all cores
  // Called with (done, total) game evaluations as work progresses; may be empty.
  std::function<void(std::size_t, std::size_t)> progress{};
};

}  // namespace attrib
