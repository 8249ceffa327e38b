#pragma once
// Seeded, portable random numbers. attrib does not use <random> distributions because their
// output differs between standard libraries; everything here is specified bit for bit.
// Determinism across thread counts comes from streams: work item k always draws from
// rng::stream(seed, k), whichever thread runs it.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <utility>

namespace attrib {

namespace detail {
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Layer tables of the normal ziggurat (Marsaglia and Tsang 2000), computed once.
struct ziggurat_tables {
  static constexpr double r = 3.442619855899;   // start of the tail
  static constexpr double v = 9.91256303526217e-3;  // area of each layer
  std::int64_t k[128];
  double w[128];
  double f[128];

  static const ziggurat_tables& get() {
    static const ziggurat_tables tables;
    return tables;
  }

 private:
  ziggurat_tables() {
    const double m = 2147483648.0;  // 2^31
    double d = r, t = r;
    const double q = v / std::exp(-0.5 * d * d);
    k[0] = static_cast<std::int64_t>((d / q) * m);
    k[1] = 0;
    w[0] = q / m;
    w[127] = d / m;
    f[0] = 1.0;
    f[127] = std::exp(-0.5 * d * d);
    for (int i = 126; i >= 1; --i) {
      d = std::sqrt(-2.0 * std::log(v / d + std::exp(-0.5 * d * d)));
      k[i + 1] = static_cast<std::int64_t>((d / t) * m);
      t = d;
      f[i] = std::exp(-0.5 * d * d);
      w[i] = d / m;
    }
  }
};
}  // namespace detail

// xoshiro256** (Blackman and Vigna), seeded through splitmix64.
class rng {
 public:
  using result_type = std::uint64_t;

  explicit constexpr rng(std::uint64_t seed = 0) {
    std::uint64_t sm = seed;
    for (auto& word : state_) word = detail::splitmix64(sm);
  }

  // An independent generator for work item `item` of a computation seeded with `seed`.
  static constexpr rng stream(std::uint64_t seed, std::uint64_t item) {
    std::uint64_t mix = seed ^ (0xD1B54A32D192ED03ull * (item + 1));
    return rng(detail::splitmix64(mix));
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }

  constexpr result_type operator()() { return next(state_); }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), without modulo bias: draws below 2^64 mod n are rejected. That
  // bound is below n, so its division is needed only for the rare draw below n.
  std::uint64_t below(std::uint64_t n) {
    std::uint64_t r = (*this)();
    if (r < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (r < threshold) r = (*this)();
    }
    return r % n;
  }

  // Standard normal by Marsaglia and Tsang's ziggurat (128 layers, 32-bit resolution): about
  // one multiply and one table look-up per draw, so noise is cheap next to a model evaluation.
  // The common case is inlined; the 1% of draws outside their layer's core go out of line.
  double normal() {
    const auto& t = detail::ziggurat_tables::get();
    const auto bits = static_cast<std::uint32_t>((*this)() >> 32);
    const auto hz = static_cast<std::int32_t>(bits);
    const std::uint32_t iz = bits & 127u;
    const std::int64_t magnitude = hz < 0 ? -static_cast<std::int64_t>(hz) : hz;
    if (magnitude < t.k[iz]) return hz * t.w[iz];
    return normal_outside_core(hz, iz);
  }

  // out[i] = scale * normal() for i = 0..count-1: the same draws in the same order, with the
  // state in registers (a call per draw keeps it in memory and costs 5 ns a draw, a tenth of
  // SmoothGrad's time on a small MLP). Draws that miss their core go through a copy of the state.
  void fill_normal(double* out, std::size_t count, double scale) {
    const auto& t = detail::ziggurat_tables::get();
    std::uint64_t s[4] = {state_[0], state_[1], state_[2], state_[3]};
    for (std::size_t i = 0; i < count; ++i) {
      const auto bits = static_cast<std::uint32_t>(next(s) >> 32);
      const auto hz = static_cast<std::int32_t>(bits);
      const std::uint32_t iz = bits & 127u;
      const std::int64_t magnitude = hz < 0 ? -static_cast<std::int64_t>(hz) : hz;
      if (magnitude < t.k[iz]) {
        out[i] = scale * (hz * t.w[iz]);
        continue;
      }
      rng rest;  // element by element, so that s itself never has its address taken
      rest.state_[0] = s[0], rest.state_[1] = s[1], rest.state_[2] = s[2], rest.state_[3] = s[3];
      out[i] = scale * rest.normal_outside_core(hz, iz);
      s[0] = rest.state_[0], s[1] = rest.state_[1], s[2] = rest.state_[2], s[3] = rest.state_[3];
    }
    state_[0] = s[0], state_[1] = s[1], state_[2] = s[2], state_[3] = s[3];
  }

  // +1 or -1 with equal probability.
  double rademacher() { return ((*this)() >> 63) ? 1.0 : -1.0; }

  // Fisher-Yates shuffle of [first, last).
  template <class It>
  void shuffle(It first, It last) {
    const auto n = static_cast<std::uint64_t>(last - first);
    for (std::uint64_t i = n; i > 1; --i) {
      const auto j = below(i);
      using std::swap;
      swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
    }
  }

 private:
  // A draw that missed its layer's core: the tail beyond r (layer 0) or the wedge test, and on
  // rejection fresh draws until one is accepted (the same sequence the textbook loop makes).
  // One xoshiro256** step on the state s.
  static constexpr std::uint64_t next(std::uint64_t (&s)[4]) {
    const std::uint64_t result = detail::rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = detail::rotl(s[3], 45);
    return result;
  }

  [[gnu::noinline]] double normal_outside_core(std::int32_t hz, std::uint32_t iz) {
    const auto& t = detail::ziggurat_tables::get();
    for (;;) {
      const double x = hz * t.w[iz];
      if (iz == 0) {
        double tx, ty;
        do {
          tx = -std::log(1.0 - uniform()) / detail::ziggurat_tables::r;
          ty = -std::log(1.0 - uniform());
        } while (ty + ty < tx * tx);
        return hz > 0 ? detail::ziggurat_tables::r + tx : -detail::ziggurat_tables::r - tx;
      }
      if (t.f[iz] + uniform() * (t.f[iz - 1] - t.f[iz]) < std::exp(-0.5 * x * x)) return x;
      const auto bits = static_cast<std::uint32_t>((*this)() >> 32);
      hz = static_cast<std::int32_t>(bits);
      iz = bits & 127u;
      const std::int64_t magnitude = hz < 0 ? -static_cast<std::int64_t>(hz) : hz;
      if (magnitude < t.k[iz]) return hz * t.w[iz];
    }
  }

  std::uint64_t state_[4]{};
};

}  // namespace attrib
