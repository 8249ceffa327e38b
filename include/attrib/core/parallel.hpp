#pragma once
// Deterministic parallel loops. Work is cut into chunks whose boundaries do not depend on
// the thread count, and partial results are combined in chunk order, so a computation gives
// bit-identical results on 1 thread and on many.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace attrib {

// The number of worker threads to use: `requested`, or the hardware concurrency when 0.
inline std::size_t resolve_threads(std::size_t requested) {
  if (requested != 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

// Calls body(chunk) for every chunk in [0, chunks) on up to `threads` threads. Chunks are
// handed out dynamically; the first exception thrown by any chunk is rethrown here.
template <class Body>
void parallel_for(std::size_t chunks, std::size_t threads, Body&& body) {
  threads = std::min(resolve_threads(threads), chunks);
  if (threads <= 1) {
    for (std::size_t c = 0; c < chunks; ++c) body(c);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (;;) {
      const std::size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      try {
        body(c);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(chunks, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace attrib
