#pragma once
// Deterministic parallel loops on a persistent pool of worker threads.
//
// Work is cut into chunks whose boundaries do not depend on the thread count, and callers combine
// partial results in chunk order, so a computation gives bit-identical results on 1 thread and on
// many. Threads are started once, on first use, and kept: a call costs a wake-up, not a thread
// start (which is 20-50 microseconds here, and the transformer makes a parallel call per matrix
// product). Idle workers spin briefly before they sleep, so back-to-back calls (a decode step's
// dozens of products) find them awake; a sleeping worker costs nothing.
//
// A parallel_for inside a chunk of another (nested), or while another thread's call holds the
// pool, runs its chunks on the calling thread: the machine is already busy, and oversubscribing
// it would only add switches. Results are the same either way.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace attrib {

// The number of worker threads to use: `requested`, or the hardware concurrency when 0.
// (hardware_concurrency reads /sys on Linux, microseconds a call, so it is asked once.)
inline std::size_t resolve_threads(std::size_t requested) {
  if (requested != 0) return requested;
  static const std::size_t cores = [] {
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? std::size_t{1} : std::size_t{hw};
  }();
  return cores;
}

namespace detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// A 32-bit word that threads wait on to change: they spin for a short while, then sleep on a
// condition variable. (std::atomic::wait would do, but libstdc++ 12's can lose a wake-up.) A
// notifier takes the mutex only when someone sleeps: the sequentially consistent store of the
// value and load of `sleepers`, against the sleeper's increment and re-check, means either the
// notifier sees the sleeper or the sleeper sees the new value.
class wake_word {
 public:
  std::uint32_t load() const { return value_.load(std::memory_order_acquire); }

  void store(std::uint32_t v) {
    value_.store(v, std::memory_order_seq_cst);
    notify();
  }

  // Subtracts one and wakes the waiters when that reaches zero.
  void count_down() {
    if (value_.fetch_sub(1, std::memory_order_seq_cst) == 1) notify();
  }

  // Spins while the value equals `old`, for about `spin` of wall time, then sleeps until it
  // changes. Returns the new value.
  std::uint32_t await_change(std::uint32_t old, std::chrono::microseconds spin) {
    std::uint32_t now = load();
    if (now != old) return now;
    const auto deadline = std::chrono::steady_clock::now() + spin;
    for (unsigned i = 1;; ++i) {
      cpu_relax();
      now = load();
      if (now != old) return now;
      // Every 64 pauses: give the core to another runnable thread, if any (a busy machine, a
      // parallel ctest), and read the clock (~20 ns, well under 1% of the spin).
      if (i % 64 == 0) {
        std::this_thread::yield();
        if (std::chrono::steady_clock::now() > deadline) break;
      }
    }
    std::unique_lock lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    while ((now = value_.load(std::memory_order_seq_cst)) == old) changed_.wait(lock);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return now;
  }

 private:
  void notify() {
    if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
    { std::lock_guard lock(mutex_); }  // a sleeper is either waiting already or sees the value
    changed_.notify_all();
  }

  std::atomic<std::uint32_t> value_{0};
  std::atomic<int> sleepers_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
};

// True on a pool worker and on a caller while it runs its share of a parallel_for.
inline thread_local bool inside_parallel_for = false;

// One fork-join job: chunks [0, chunks) handed out one at a time from `next`.
struct pool_job {
  void (*run)(void* body, std::size_t chunk) = nullptr;
  void* body = nullptr;
  std::size_t chunks = 0;
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;

  // Runs chunks until none is left; the first exception stops the handing out and is kept.
  void work() {
    for (;;) {
      const std::size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      try {
        run(body, c);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(chunks, std::memory_order_relaxed);
      }
    }
  }
};

// Workers wait on `epoch_`, a 32-bit word (a futex) holding a call counter in its high bits and
// the number of workers that call wants in its low 8: worker i joins the call when i < wanted.
// The caller publishes the job, bumps the epoch, works on chunks itself, and waits until the
// `remaining_` workers that joined have left the job.
class thread_pool {
 public:
  static constexpr std::size_t max_workers = 255;

  thread_pool() = default;
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  ~thread_pool() {
    {
      std::lock_guard lock(submit_);
      stopping_.store(true, std::memory_order_relaxed);
      epoch_.store(epoch_.load() + (1u << 8));
    }
    for (auto& t : workers_) t.join();
  }

  // Runs run(body, c) for every c in [0, chunks) on the caller and up to `helpers` workers.
  // Returns false, having run nothing, when another call holds the pool or the machine has one
  // core.
  bool try_run(std::size_t chunks, std::size_t helpers, void (*run)(void*, std::size_t),
               void* body) {
    std::unique_lock lock(submit_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    // More threads than cores would only take turns on them.
    helpers = std::min({helpers, resolve_threads(0) - 1, max_workers});
    if (helpers == 0) return false;
    while (workers_.size() < helpers) {
      // The worker must compare against the epoch before this call's, whenever it starts.
      const std::size_t id = workers_.size();
      const std::uint32_t seen = epoch_.load();
      workers_.emplace_back([this, id, seen] { worker_loop(id, seen); });
    }
    pool_job job;
    job.run = run;
    job.body = body;
    job.chunks = chunks;
    job_ = &job;
    remaining_.store(static_cast<std::uint32_t>(helpers));
    const std::uint32_t call = (epoch_.load() >> 8) + 1;
    epoch_.store((call << 8) | static_cast<std::uint32_t>(helpers));

    inside_parallel_for = true;
    job.work();
    inside_parallel_for = false;
    for (std::uint32_t left = remaining_.load(); left != 0;)
      left = remaining_.await_change(left, spin_);
    job_ = nullptr;
    lock.unlock();
    if (job.error) std::rethrow_exception(job.error);
    return true;
  }

  std::size_t workers() const {
    std::lock_guard lock(submit_);
    return workers_.size();
  }

 private:
  void worker_loop(std::size_t id, std::uint32_t seen) {
    inside_parallel_for = true;
    for (;;) {
      seen = epoch_.await_change(seen, spin_);
      if (stopping_.load(std::memory_order_relaxed)) return;
      if (id >= (seen & 0xffu)) continue;  // this call wants fewer workers
      job_->work();
      remaining_.count_down();
    }
  }

  // Long enough to bridge the serial work between a decode step's products, short enough that an
  // idle program stops burning a core within a millisecond.
  static constexpr std::chrono::microseconds spin_{200};

  mutable std::mutex submit_;
  std::vector<std::thread> workers_;
  pool_job* job_ = nullptr;
  wake_word epoch_;
  wake_word remaining_;
  std::atomic<bool> stopping_{false};
};

// The process-wide pool; its workers start on the first parallel call that needs them.
inline thread_pool& default_thread_pool() {
  static thread_pool pool;
  return pool;
}

}  // namespace detail

// Calls body(chunk) for every chunk in [0, chunks) on up to `threads` threads (0: all cores), the
// calling thread among them. Chunks are handed out dynamically; the first exception thrown by any
// chunk is rethrown here. No thread is started per call (see the top of this file).
template <class Body>
void parallel_for(std::size_t chunks, std::size_t threads, Body&& body) {
  threads = std::min(resolve_threads(threads), chunks);
  auto serial = [&] {
    for (std::size_t c = 0; c < chunks; ++c) body(c);
  };
  if (threads <= 1 || detail::inside_parallel_for) return serial();
  using body_type = std::remove_reference_t<Body>;
  auto run = [](void* b, std::size_t c) { (*static_cast<body_type*>(b))(c); };
  void* erased = const_cast<void*>(static_cast<const void*>(std::addressof(body)));
  if (!detail::default_thread_pool().try_run(chunks, threads - 1, run, erased)) serial();
}

// Calls body(c, begin, end) for the fixed ranges [begin, end) of `chunk` items (the last one
// shorter) that cover [0, count), on up to `threads` threads. The ranges depend on count and chunk
// only, never on the thread count, so per-chunk results combined in chunk order are the same on
// any number of threads: the one way attrib splits work.
template <class Body>
void parallel_chunks(std::uint64_t count, std::uint64_t chunk, std::size_t threads, Body&& body) {
  if (count == 0) return;
  chunk = std::max<std::uint64_t>(chunk, 1);
  const auto chunks = static_cast<std::size_t>((count - 1) / chunk + 1);
  parallel_for(chunks, threads, [&](std::size_t c) {
    const std::uint64_t begin = static_cast<std::uint64_t>(c) * chunk;
    body(c, begin, std::min(count, begin + chunk));
  });
}

}  // namespace attrib
