#include "sim/regimes.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace nordiq::sim {

namespace {
constexpr double kWalkReversion = 0.998;
constexpr double kRestartsPerDay = 1.0 / 3.0;
}  // namespace

RegimeLayer::RegimeLayer(uint64_t server_key, const SimConfig& cfg)
    : rng_(Rng::substream(server_key, StreamId::regimes)),
      step_days_(cfg.step_s / 86400.0),
      step_ms_(cfg.step_ms()) {
  // Every draw is made whatever the outcome, so each feature's parameters are stable.
  flat_ = rng_.uniform() < 0.08;
  flat_floor_ = rng_.uniform(0.5, 3.0);
  shifts_ = rng_.uniform() < 0.60;
  shift_rate_ = rng_.uniform(0.2, 1.5);
  walk_ = rng_.uniform() < 0.35;
  walk_sd_ = rng_.uniform(0.2, 0.8);
  leak_ = rng_.uniform() < 0.25;
  leak_per_day_ = rng_.uniform(1.0, 8.0);
  daily_ = rng_.uniform() < 0.50;
  daily_amp_ = rng_.uniform(3.0, 15.0);
  daily_phase_h_ = rng_.uniform(0.0, 24.0);
  hourly_ = rng_.uniform() < 0.30;
  hourly_amp_ = rng_.uniform(10.0, 40.0);
  const int slots = static_cast<int>(std::max<int64_t>(1, 3'600'000 / step_ms_));
  hourly_slot_ = std::min(slots - 1, static_cast<int>(rng_.uniform() * slots));
  weekly_ = rng_.uniform() < 0.30;
  weekend_factor_ = rng_.uniform(0.4, 1.3);
}

void RegimeLayer::advance() {
  // Three uniforms and one normal every step, used or not: the stream never depends on state.
  const double u_shift = rng_.uniform(), u_restart = rng_.uniform(), u_mem = rng_.uniform();
  const double z = rng_.normal();
  if (shifts_ && u_shift < shift_rate_ * step_days_) {
    cpu_shift_ = 12.0 * z;
    mem_shift_ = 20.0 * u_mem - 10.0;
  }
  if (walk_) cpu_walk_ = std::clamp(kWalkReversion * cpu_walk_ + walk_sd_ * z, -40.0, 40.0);
  if (leak_) mem_leak_ = u_restart < kRestartsPerDay * step_days_ ? 0.0 : mem_leak_ + leak_per_day_ * step_days_;
}

void RegimeLayer::apply(const StepClock& clock, SimRecord& out) const {
  auto& v = out.v;
  const double user = v[0] / 100.0, sys = v[1] / 100.0, iowait = v[2] / 100.0;
  const double busy = 100.0 - v[3] / 100.0;
  double u = user;
  if (flat_) u = 0.15 * u + flat_floor_;
  u += cpu_shift_ + cpu_walk_;
  const double hour = static_cast<double>(((clock.t % 86'400'000) + 86'400'000) % 86'400'000) / 3.6e6;
  if (daily_) u += daily_amp_ * std::sin(2.0 * std::numbers::pi * (hour - daily_phase_h_) / 24.0);
  const int slot = static_cast<int>((clock.t % 3'600'000) / step_ms_);
  if (hourly_ && slot == hourly_slot_) u += hourly_amp_;
  if (weekly_ && clock.weekday >= 5) u *= weekend_factor_;
  u = std::clamp(u, 0.0, std::max(0.0, 100.0 - sys - iowait));

  const int32_t U = static_cast<int32_t>(std::llround(u * 100.0));
  const int32_t idle = std::max(0, 10'000 - U - v[1] - v[2]);
  const double share = user + sys > 0 ? (v[4] / 100.0) / (user + sys) : 0.0;
  const double new_busy = 100.0 - idle / 100.0;
  v[0] = U;
  v[3] = idle;
  v[4] = std::min(U + v[1], static_cast<int32_t>(std::llround(share * (U + v[1]))));
  v[5] = static_cast<int32_t>(std::llround(std::clamp(v[5] / 100.0 + mem_shift_ + mem_leak_, 0.0, 100.0) * 100.0));
  if (busy > 0.5) v[12] = static_cast<int32_t>(std::llround(std::clamp(v[12] * new_busy / busy, 0.0, 1e7)));
}

void RegimeLayer::step(const StepClock& clock, SimRecord& out) {
  advance();
  if (out.online) apply(clock, out);
}

}  // namespace nordiq::sim
