#include "risk/risk_score.hpp"

#include <algorithm>

namespace nordiq::risk {

namespace {

struct Tier {
  double at_least;
  double points;
};
// SPEC §3.1, highest tier first. Unused slots have points 0.
using TierTable = std::array<Tier, 4>;
constexpr TierTable kCpuTiers = {{{98, 95}, {95, 80}, {90, 65}, {80, 50}}};
constexpr TierTable kMemoryTiers = {{{98, 95}, {95, 80}, {90, 60}, {85, 50}}};
constexpr TierTable kDatabaseMemoryTiers = {{{99, 95}, {98, 80}, {95, 60}, {0, 0}}};
constexpr TierTable kIowaitTiers = {{{30, 90}, {20, 70}, {10, 50}, {0, 0}}};
constexpr TierTable kSwapTiers = {{{50, 85}, {25, 65}, {10, 50}, {0, 0}}};
constexpr TierTable kLoadTiers = {{{12, 70}, {8, 50}, {0, 0}, {0, 0}}};
constexpr TierTable kDiskTiers = {{{95, 90}, {90, 65}, {0, 0}, {0, 0}}};

const TierTable& tiers(Signal s, Profile p) {
  switch (s) {
    case Signal::cpu: return kCpuTiers;
    case Signal::memory: return p == Profile::database ? kDatabaseMemoryTiers : kMemoryTiers;
    case Signal::iowait: return kIowaitTiers;
    case Signal::swap: return kSwapTiers;
    case Signal::load: return kLoadTiers;
    case Signal::disk: return kDiskTiers;
  }
  return kCpuTiers;
}

int metric_of(Signal s) {
  switch (s) {
    case Signal::cpu: return static_cast<int>(Metric::cpu_idle_pct);
    case Signal::memory: return static_cast<int>(Metric::mem_used_pct);
    case Signal::iowait: return static_cast<int>(Metric::cpu_iowait_pct);
    case Signal::swap: return static_cast<int>(Metric::swap_used_pct);
    case Signal::load: return static_cast<int>(Metric::load_average);
    case Signal::disk: return static_cast<int>(Metric::disk_usage_pct);
  }
  return 0;
}

}  // namespace

Level level_for(double risk) {
  if (risk >= 80) return Level::critical;
  if (risk >= 60) return Level::warning;
  if (risk >= 50) return Level::degraded;
  return Level::healthy;
}

int metric_of_signal(Signal s) { return metric_of(s); }

double tier_points(Signal s, Profile profile, double value) {
  for (const Tier& t : tiers(s, profile))
    if (t.points > 0 && value >= t.at_least) return t.points;
  return 0;
}

double alert_threshold(Signal s, Profile profile) {
  switch (s) {
    case Signal::cpu: return 90;
    case Signal::memory: return profile == Profile::database ? 98 : 95;
    case Signal::iowait: return 20;
    case Signal::swap: return 25;
    case Signal::load: return 12;
    case Signal::disk: return 90;
  }
  return 0;
}

namespace {
// The signal's value from its metric's raw value (CPU used = 100 − idle).
double signal_value(Signal s, double metric_value) { return s == Signal::cpu ? 100.0 - metric_value : metric_value; }
}  // namespace

double signal_current(Signal s, const WindowView& w) {
  if (w.length <= 0) return 0;
  const float* col = w.metric[metric_of(s)];
  if (col == nullptr) return 0;
  return signal_value(s, col[w.length - 1]);
}

double share_over_threshold(Signal s, const WindowView& w, double threshold) {
  const float* col = w.length > 0 ? w.metric[metric_of(s)] : nullptr;
  if (col == nullptr) return 0;
  int over = 0;
  for (int i = 0; i < w.length; ++i) over += signal_value(s, col[i]) >= threshold;
  return static_cast<double>(over) / w.length;
}

double signal_forecast(Signal s, Outlook o, const forecast::ForecastBatch& f, int b, int t) {
  const int k = metric_of(s);
  if (s == Signal::cpu) {  // high idle is good: the pessimistic CPU is the optimistic idle
    const int q = o == Outlook::pessimistic ? forecast::kP10 : o == Outlook::median ? forecast::kP50 : forecast::kP90;
    return 100.0 - f.path(b, k, q)[t];
  }
  const int q = o == Outlook::pessimistic ? forecast::kP90 : o == Outlook::median ? forecast::kP50 : forecast::kP10;
  return f.path(b, k, q)[t];
}

RiskAssessment assess_risk(const WindowView& w, const forecast::ForecastBatch& f, int b) {
  RiskAssessment r;
  const int near = std::min(kNearTermSteps, f.horizon);
  double best = 0, sum = 0;
  for (int i = 0; i < kNumSignals; ++i) {
    const auto s = static_cast<Signal>(i);
    double near_mean = 0, horizon_max = 0;
    for (int t = 0; t < f.horizon; ++t) {
      const double v = signal_forecast(s, Outlook::pessimistic, f, b, t);
      if (t < near) near_mean += v;
      horizon_max = t == 0 ? v : std::max(horizon_max, v);
    }
    if (near > 0) near_mean /= near;
    double rs = tier_points(s, w.profile, signal_current(s, w));
    if (f.horizon > 0) {
      rs = std::max(rs, 0.9 * tier_points(s, w.profile, near_mean));
      rs = std::max(rs, 0.6 * tier_points(s, w.profile, horizon_max));
    }
    r.signal_risk[i] = static_cast<float>(rs);
    sum += rs;
    if (rs > best) {
      best = rs;
      r.driver = s;
    }
  }
  r.score = static_cast<float>(std::min(100.0, best + 0.2 * (sum - best)));
  r.level = level_for(r.score);
  return r;
}

}  // namespace nordiq::risk
