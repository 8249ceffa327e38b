// Evidence for the engine's worker pool and vectorised kernels: every chunk runs exactly once on
// any thread count, errors and nesting behave, no thread is started per call, repeated calls keep
// memory flat, and the vectorised activations equal the scalar ones.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "attrib/core/parallel.hpp"
#include "attrib/core/random.hpp"
#include "attrib/games/perturbed_model.hpp"
#include "attrib/methods/feature/shapley.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/detail/dense_forward.hpp"
#include "attrib/models/mlp.hpp"

using namespace attrib;

namespace {

// Resident set size of this process in bytes, from /proc/self/statm (0 where there is none).
double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0.0;
  return resident * 4096.0;
}

// |a - b| <= tolerance * max(1, |b|); equal infinities and two NaNs count as close.
bool close(double a, double b, double tolerance) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return true;
  return std::abs(a - b) <= tolerance * std::max(1.0, std::abs(b));
}

}  // namespace

TEST_CASE("parallel_for: every chunk exactly once, on any thread count") {
  for (std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{8}, std::size_t{0}}) {
    for (std::size_t chunks : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{1000}}) {
      std::vector<std::atomic<int>> hits(chunks);
      parallel_for(chunks, threads, [&](std::size_t c) { hits[c].fetch_add(1); });
      for (std::size_t c = 0; c < chunks; ++c) CHECK(hits[c].load() == 1);
    }
  }
}

TEST_CASE("parallel_for: the first exception is rethrown and the pool stays usable") {
  CHECK_THROWS_WITH_AS(parallel_for(100, 2,
                                    [](std::size_t c) {
                                      if (c == 37) throw std::runtime_error("chunk 37 failed");
                                    }),
                       "chunk 37 failed", std::runtime_error);
  std::atomic<int> sum{0};
  parallel_for(100, 2, [&](std::size_t c) { sum += static_cast<int>(c); });
  CHECK(sum.load() == 4950);
}

TEST_CASE("parallel_for: nested and concurrent calls run every chunk, without new threads") {
  std::atomic<int> inner{0};
  parallel_for(10, 2, [&](std::size_t) { parallel_for(10, 2, [&](std::size_t) { ++inner; }); });
  CHECK(inner.load() == 100);

  // Callers on their own threads share the pool (or run on their own thread when it is busy).
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int k = 0; k < 200; ++k) parallel_for(16, 2, [&](std::size_t c) { total += static_cast<long>(c); });
    });
  for (auto& t : callers) t.join();
  CHECK(total.load() == 4L * 200 * 120);

  // 10,000 more calls: the pool never holds more workers than the cores allow.
  for (int k = 0; k < 10000; ++k) parallel_for(4, 8, [](std::size_t) {});
  CHECK(detail::default_thread_pool().workers() + 1 <= std::max<std::size_t>(2, resolve_threads(0)));
}

TEST_CASE("exact Shapley repeated 1,000 times: identical values, memory flat") {
  mlp model({{6, 8, activation::tanh}, {8, 2, activation::identity}}, output_head::identity, 3);
  vector x = vector::LinSpaced(6, -1.0, 1.5);
  const matrix background = matrix::Zero(1, 6);
  const auto game = masked_model(model, x, background);
  const vector reference = exact_shapley{}.explain(game, {.threads = 1}).values;
  double resident_after_warmup = 0.0;
  for (int call = 0; call < 1000; ++call) {
    const vector values = exact_shapley{}.explain(game, {.threads = 2}).values;
    if (values != reference) {
      FAIL("call " << call << " on 2 threads differs from 1 thread");
    }
    if (call == 99) resident_after_warmup = resident_bytes();
  }
  // 900 more calls may not grow the process by more than 1 MiB (a leak of one 8-coalition
  // matrix per call would be 3.4 MB). AddressSanitizer keeps freed memory in quarantine, so
  // resident size means nothing there; its leak checker covers that build instead.
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(resident_bytes() - resident_after_warmup < 1024.0 * 1024.0);
#else
  (void)resident_after_warmup;
#endif
}

TEST_CASE("vectorised activations equal the scalar ones to a few ulp") {
  std::vector<double> xs = {0.0, -0.0, 1e-300, -1e-300, 1e-12, 0.0999, 0.1, 0.1001, -0.3, 0.5, 1.0, -2.5,
                            19.0, 20.0, -40.0, 400.0, -800.0, 1e300,
                            std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  for (double x = -8.0; x <= 8.0; x += 0.01) xs.push_back(x);
  matrix m(1, static_cast<attrib::index>(xs.size()));
  for (std::size_t i = 0; i < xs.size(); ++i) m(0, static_cast<attrib::index>(i)) = xs[i];
  for (activation a : {activation::identity, activation::tanh, activation::relu, activation::gelu, activation::sigmoid}) {
    CAPTURE(activation_name(a));
    const matrix value = activate(a, m);
    const matrix first = activation_derivative(a, m);
    const matrix second = activation_second_derivative(a, m);
    REQUIRE(value.rows() == 1);
    REQUIRE(value.cols() == m.cols());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double x = xs[i];
      CAPTURE(x);
      const auto k = static_cast<attrib::index>(i);
      // A few ulp relative to max(1, |value|).
      CHECK(close(value(0, k), activate(a, x), 1e-15));
      CHECK(close(first(0, k), activation_derivative(a, x), 1e-15));
      CHECK(close(second(0, k), activation_second_derivative(a, x), 1e-15));
      // Near zero tanh must stay accurate relative to its own size (at most ~5 ulp).
      if (a == activation::tanh && std::abs(x) < 1.0 && x != 0.0)
        CHECK(std::abs(value(0, k) / std::tanh(x) - 1.0) <= 1e-15);
    }
  }
  // NaN in, NaN out.
  matrix nan(1, 1);
  nan(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(activate(activation::tanh, nan)(0, 0)));
  CHECK(std::isnan(activate(activation::sigmoid, nan)(0, 0)));
}

namespace {
std::int64_t ulp_distance(double a, double b) {
  std::int64_t ia = 0, ib = 0;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  if (ia < 0) ia = std::numeric_limits<std::int64_t>::min() - ia;  // order negative doubles too
  if (ib < 0) ib = std::numeric_limits<std::int64_t>::min() - ib;
  return ia > ib ? ia - ib : ib - ia;
}
}  // namespace

TEST_CASE("the batch tanh is within 3 ulp of std::tanh everywhere, keeping NaN and the sign of zero") {
  // Both paths: the one this processor takes (AVX2 and FMA where it has them) and the portable one.
  MESSAGE("this processor " << (attrib::detail::has_avx2_fma() ? "runs" : "does not run")
                            << " the AVX2 and FMA kernels");
  std::vector<double> xs;
  for (double x = -25.0; x <= 25.0; x += 0.0007) xs.push_back(x);
  for (int e = -1074; e < 8; ++e)  // subnormal to large, both signs
    for (double m : {1.0, 1.3, 1.7, 1.999}) {
      xs.push_back(std::ldexp(m, e));
      xs.push_back(-std::ldexp(m, e));
    }
  const auto n = static_cast<attrib::index>(xs.size());
  std::vector<double> fast(xs.size()), portable(xs.size());
  attrib::detail::tanh_batch(xs.data(), fast.data(), n);
  attrib::detail::elementwise(xs.data(), portable.data(), n, attrib::detail::tanh_value);
  std::int64_t worst_fast = 0, worst_portable = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    worst_fast = std::max(worst_fast, ulp_distance(fast[i], std::tanh(xs[i])));
    worst_portable = std::max(worst_portable, ulp_distance(portable[i], std::tanh(xs[i])));
  }
  CHECK(worst_fast <= 3);
  CHECK(worst_portable <= 5);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::vector<double> special = {0.0, -0.0, nan, inf, -inf, 1e300, -1e-310}, out(special.size());
  for (std::size_t length : {special.size(), std::size_t{3}}) {  // whole registers and a masked tail
    attrib::detail::tanh_batch(special.data(), out.data(), static_cast<attrib::index>(length));
    CHECK(out[0] == 0.0);
    CHECK(!std::signbit(out[0]));
    CHECK(std::signbit(out[1]));
    CHECK(std::isnan(out[2]));
  }
  CHECK(out[3] == 1.0);
  CHECK(out[4] == -1.0);
  CHECK(out[5] == 1.0);
  CHECK(out[6] == -1e-310);
}

#ifdef ATTRIB_X86_DISPATCH
TEST_CASE("the AVX-512 kernels give the AVX2 kernels' bits") {
  if (!attrib::detail::has_avx512f()) {
    MESSAGE("this processor does not run AVX-512F: its kernels are not compared here");
    return;
  }
  // tanh: a sweep through every range of the method and the special values, in whole registers.
  std::vector<double> xs = {0.0, -0.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(), 1e300, -1e-310, 40.0};
  for (double x = -30.0; x <= 30.0; x += 0.00093) xs.push_back(x);
  for (int e = -1074; e < 10; ++e)
    for (double m : {1.0, 1.37, 1.999}) {
      xs.push_back(std::ldexp(m, e));
      xs.push_back(-std::ldexp(m, e));
    }
  while (xs.size() % 8 != 0) xs.push_back(0.5);
  const auto n = static_cast<attrib::index>(xs.size());
  std::vector<double> four(xs.size()), eight(xs.size());
  attrib::detail::tanh_array_avx2(xs.data(), four.data(), n);
  attrib::detail::tanh_array_avx512(xs.data(), eight.data(), n);
  CHECK(std::memcmp(four.data(), eight.data(), sizeof(double) * xs.size()) == 0);

  // Dense layers: both kernels on the same packing (padded to 8), every activation and shape of the
  // test below, bit for bit, with and without pre-activations.
  rng gen(8);
  for (activation act : {activation::identity, activation::tanh, activation::relu, activation::sigmoid})
    for (attrib::index inputs : {1, 13, 16, 40})
      for (attrib::index outputs : {1, 3, 7, 8, 9, 16, 17, 24, 33}) {
        CAPTURE(inputs);
        CAPTURE(outputs);
        const attrib::index rows = 29;
        matrix x(rows, inputs), w(outputs, inputs);
        vector b(outputs);
        for (attrib::index i = 0; i < x.size(); ++i) x.data()[i] = 1.5 * gen.normal();
        for (attrib::index i = 0; i < w.size(); ++i) w.data()[i] = gen.normal() / std::sqrt(double(inputs));
        for (attrib::index i = 0; i < b.size(); ++i) b(i) = gen.normal();
        const auto packing = attrib::detail::pack_dense(w, b);
        REQUIRE(packing.padded % 8 == 0);
        matrix pre4(rows, outputs), post4(rows, outputs), pre8(rows, outputs), post8(rows, outputs);
        const double* packed = packing.values.data();
        const attrib::detail::dense_operands four_lanes{
            x.data(), rows, inputs, packed, packed + inputs * packing.padded, outputs, packing.padded, act, pre4.data(),
            post4.data()};
        attrib::detail::dense_operands eight_lanes = four_lanes;
        eight_lanes.pre = pre8.data();
        eight_lanes.post = post8.data();
        attrib::detail::dense_forward_avx2(four_lanes);
        attrib::detail::dense_forward_avx512(eight_lanes);
        CHECK(pre4 == pre8);
        CHECK(post4 == post8);
      }
}
#endif

TEST_CASE("dense layers: equal to a long-double reference, and a row's bits never depend on its batch") {
  rng gen(5);
  for (activation act :
       {activation::identity, activation::tanh, activation::relu, activation::gelu, activation::sigmoid})
    for (attrib::index inputs : {1, 3, 13, 16, 40})
      for (attrib::index outputs : {1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 21}) {
        CAPTURE(activation_name(act));
        CAPTURE(inputs);
        CAPTURE(outputs);
        const attrib::index rows = 26;  // 8- 6- 4- and 3-row tiles, each with single rows left over
        matrix x(rows, inputs), w(outputs, inputs);
        vector b(outputs);
        for (attrib::index i = 0; i < x.size(); ++i) x.data()[i] = 1.5 * gen.normal();
        for (attrib::index i = 0; i < w.size(); ++i) w.data()[i] = gen.normal() / std::sqrt(double(inputs));
        for (attrib::index i = 0; i < b.size(); ++i) b(i) = gen.normal();
        matrix pre(rows, outputs), post(rows, outputs), portable(rows, outputs);
        const auto packing = attrib::detail::pack_dense(w, b);
        CHECK(packing.values.empty() == !attrib::detail::has_avx2_fma());  // every shape here fits the kernel
        attrib::detail::dense_forward(x.data(), rows, inputs, w, b, act, packing, pre.data(), post.data());
        attrib::detail::dense_forward_portable(x.data(), rows, inputs, w, b, act, nullptr, portable.data());
        for (attrib::index r = 0; r < rows; ++r) {
          matrix alone(1, outputs);
          attrib::detail::dense_forward(x.row(r).data(), 1, inputs, w, b, act, packing, nullptr, alone.data());
          CHECK(alone.row(0) == post.row(r));
          for (attrib::index j = 0; j < outputs; ++j) {
            long double sum = b(j), magnitude = std::abs(b(j));
            for (attrib::index k = 0; k < inputs; ++k) {
              sum += static_cast<long double>(w(j, k)) * x(r, k);
              magnitude += std::abs(static_cast<long double>(w(j, k)) * x(r, k));
            }
            const double tolerance = 4e-16 * static_cast<double>(magnitude) * inputs;
            CHECK(std::abs(pre(r, j) - static_cast<double>(sum)) <= tolerance);
            // The activations' slopes are at most 1.13 (gelu), so the sum's error carries over.
            const double scale = std::max(1.0, std::abs(post(r, j)));
            CHECK(std::abs(post(r, j) - activate(act, pre(r, j))) <= 1e-15 * scale);
            CHECK(std::abs(portable(r, j) - post(r, j)) <= 1.13 * 2 * tolerance + 2e-15 * scale);
          }
        }
      }
  // A NaN input spoils its own row only; an empty batch writes nothing.
  matrix x = matrix::Ones(5, 13), w = matrix::Ones(16, 13), out(5, 16);
  x(2, 7) = std::numeric_limits<double>::quiet_NaN();
  const vector zero = vector::Zero(16);
  const auto packing = attrib::detail::pack_dense(w, zero);
  attrib::detail::dense_forward(x.data(), 5, 13, w, zero, activation::tanh, packing, nullptr, out.data());
  for (attrib::index r = 0; r < 5; ++r) CHECK(out.row(r).array().isNaN().all() == (r == 2));
  out(0, 0) = 42.0;
  attrib::detail::dense_forward(x.data(), 0, 13, w, zero, activation::tanh, packing, nullptr, out.data());
  CHECK(out(0, 0) == 42.0);
  // An MLP packs its weights once: set_parameters must repack, or it would predict with the old ones.
  mlp net({{13, 16, activation::tanh}, {16, 3, activation::identity}}, output_head::identity, 3);
  const mlp other({{13, 16, activation::tanh}, {16, 3, activation::identity}}, output_head::identity, 4);
  const matrix rows = matrix::Ones(7, 13);
  const matrix before = net.logits(rows);
  net.set_parameters(other.parameters());
  CHECK(net.logits(rows) == other.logits(rows));
  CHECK(net.logits(rows) != before);
}
