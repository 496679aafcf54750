// Risk score and levels (SPEC §3.1, §3.2): how bad is the worst thing happening or about to
// happen on a server. Pure functions over one server's current values and forecast.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/metrics.hpp"
#include "core/window.hpp"
#include "forecast/forecaster.hpp"

namespace nordiq::risk {

// The six signals that score risk, in SPEC §3.1 table order.
enum class Signal : uint8_t { cpu, memory, iowait, swap, load, disk };
inline constexpr int kNumSignals = 6;
inline constexpr std::array<std::string_view, kNumSignals> kSignalNames = {
    "cpu", "memory", "iowait", "swap", "load", "disk"};
// The metric an alert on the signal names (CPU used is derived: 100 − cpu_idle_pct).
inline constexpr std::array<std::string_view, kNumSignals> kSignalMetrics = {
    "cpu_used_pct", "mem_used_pct", "cpu_iowait_pct", "swap_used_pct", "load_average",
    "disk_usage_pct"};
inline std::string_view signal_name(Signal s) { return kSignalNames[static_cast<int>(s)]; }
inline std::string_view signal_metric(Signal s) { return kSignalMetrics[static_cast<int>(s)]; }
inline std::optional<Signal> signal_from_name(std::string_view name) {
  for (int i = 0; i < kNumSignals; ++i)
    if (kSignalNames[i] == name) return static_cast<Signal>(i);
  return std::nullopt;
}

enum class Level : uint8_t { healthy, degraded, warning, critical };  // ordered by severity
inline constexpr int kNumLevels = 4;
inline constexpr std::array<std::string_view, kNumLevels> kLevelNames = {"healthy", "degraded",
                                                                         "warning", "critical"};
inline constexpr std::array<std::string_view, kNumLevels> kLevelColors = {"#00FF00", "#FFD700",
                                                                          "#FFA500", "#FF0000"};
inline std::string_view level_name(Level l) { return kLevelNames[static_cast<int>(l)]; }
inline std::string_view level_color(Level l) { return kLevelColors[static_cast<int>(l)]; }
inline std::optional<Level> level_from_name(std::string_view name) {
  for (int i = 0; i < kNumLevels; ++i)
    if (kLevelNames[i] == name) return static_cast<Level>(i);
  return std::nullopt;
}
// critical ≥ 80, warning ≥ 60, degraded ≥ 50, healthy below.
Level level_for(double risk);

// Points of a signal value from the first matching tier (value ≥ threshold), 0 if none.
double tier_points(Signal s, Profile profile, double value);
// The alert threshold of a signal (SPEC §3.3): cpu used 90, memory 95 (database 98), iowait 20,
// swap 25, disk 90, load 12.
double alert_threshold(Signal s, Profile profile);

// The contract index of the metric a signal reads (CPU used reads cpu_idle_pct).
int metric_of_signal(Signal s);

// A signal's value in its own terms, read from the contract's metrics.
enum class Outlook : uint8_t { optimistic, median, pessimistic };
// The current value of signal s from the window's last step.
double signal_current(Signal s, const WindowView& w);
// The share of the window's steps at which the signal was at or over `threshold`.
double share_over_threshold(Signal s, const WindowView& w, double threshold);
// The signal's forecast at horizon step t: pessimistic = p90 (for CPU: 100 − p10 of idle),
// median = p50, optimistic = p10 (for CPU: 100 − p90 of idle).
double signal_forecast(Signal s, Outlook o, const forecast::ForecastBatch& f, int b, int t);

struct RiskAssessment {
  float score = 0;  // 0..100
  Level level = Level::healthy;
  Signal driver = Signal::cpu;  // the signal with the largest r_s
  std::array<float, kNumSignals> signal_risk{};  // r_s
};

// r_s = max(points(current), 0.9·points(mean of first 6 pessimistic steps),
//           0.6·points(max pessimistic over the horizon));
// risk = min(100, max_s r_s + 0.2·(Σ_s r_s − max_s r_s)).
RiskAssessment assess_risk(const WindowView& w, const forecast::ForecastBatch& f, int b);

inline constexpr int kNearTermSteps = 6;  // "the next 30 min" at 5-min steps

}  // namespace nordiq::risk
