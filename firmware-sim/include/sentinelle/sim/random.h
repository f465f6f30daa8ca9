// Deterministic random numbers for the simulator: the same seed gives the
// same series on every build (the standard library's distributions are
// implementation-defined, so they are not used).
#pragma once

#include <cmath>
#include <cstdint>

namespace sentinelle::sim {

// SplitMix64 step, used to derive independent stream seeds.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Seed of stream `stream` derived from a master seed.
inline uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ULL);
  SplitMix64(s);
  return SplitMix64(s);
}

// xoshiro256** generator. Not thread-safe; one per stream.
class Rng {
 public:
  explicit Rng(uint64_t seed = 1) {
    for (auto& w : s_) w = SplitMix64(seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller, second value cached).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = Uniform();
    while (u1 <= 1e-300) u1 = Uniform();
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(6.283185307179586 * u2);
    has_spare_ = true;
    return r * std::cos(6.283185307179586 * u2);
  }
  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }
  bool Bernoulli(double p) { return Uniform() < p; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// Ornstein-Uhlenbeck / AR(1) process with stationary standard deviation
// `sd` and correlation time `tau_s`, discretised exactly so that stepping at
// 10 s or at 300 s gives the same statistics.
class Ar1 {
 public:
  Ar1() = default;
  Ar1(double sd, double tau_s) : sd_(sd), tau_s_(tau_s) {}
  void Init(Rng& rng) { x_ = sd_ * rng.Normal(); }
  double Step(Rng& rng, double dt_s) {
    const double a = std::exp(-dt_s / tau_s_);
    x_ = a * x_ + sd_ * std::sqrt(1.0 - a * a) * rng.Normal();
    return x_;
  }
  double value() const { return x_; }

 private:
  double sd_ = 1, tau_s_ = 3600;
  double x_ = 0;
};

}  // namespace sentinelle::sim
