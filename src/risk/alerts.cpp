#include "risk/alerts.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/core.h>

namespace nordiq::risk {

namespace {

// Whole minutes until the end of forecast step `steps` (rounded up: a crossing in the future is
// never "in 0 min", which means now), and the forecast steps that fit in `minutes`. In
// milliseconds, so steps under a minute count what they last.
int minutes_after(int steps, int64_t step_ms) {
  return static_cast<int>((static_cast<int64_t>(steps) * step_ms + 59'999) / 60'000);
}
int steps_within(int minutes, int64_t step_ms) {
  return static_cast<int>(static_cast<int64_t>(minutes) * 60'000 / std::max<int64_t>(step_ms, 1));
}

int first_crossing(Signal s, Outlook o, const forecast::ForecastBatch& f, int b, double threshold,
                   int64_t step_ms) {
  for (int t = 0; t < f.horizon; ++t)
    if (signal_forecast(s, o, f, b, t) >= threshold) return minutes_after(t + 1, step_ms);
  return kNoCrossing;
}

std::string format_value(Signal s, double v) {
  const bool percent = s != Signal::load;
  const std::string num = std::fabs(v - std::round(v)) < 0.05 ? fmt::format("{:.0f}", v) : fmt::format("{:.1f}", v);
  return percent ? num + "%" : num;
}

std::string format_duration(int minutes) {
  if (minutes < 120) return fmt::format("{} min", minutes);
  const double hours = minutes / 60.0;
  return std::fabs(hours - std::round(hours)) < 0.05 ? fmt::format("{:.0f} h", hours)
                                                     : fmt::format("{:.1f} h", hours);
}

// "25–80 min" when both ends are in minutes, else each end with its unit.
std::string format_range(int lo, int hi) {
  if (lo < 120 && hi < 120) return fmt::format("{}–{} min", lo, hi);
  return format_duration(lo) + "–" + format_duration(hi);
}

int urgency_key(int eta) { return eta == kNoCrossing ? 1 << 30 : eta; }

// The path of quantile q of the signal (CPU used = 100 − idle: its quantile q is idle's 6 − q).
double signal_quantile(Signal s, int q, const forecast::ForecastBatch& f, int b, int t) {
  const int k = metric_of_signal(s);
  if (s == Signal::cpu) return 100.0 - f.path(b, k, forecast::kNumQuantiles - 1 - q)[t];
  return f.path(b, k, q)[t];
}

// P(crossing within `steps`): 1 − the lowest quantile level whose path reaches the threshold.
float crossing_probability(Signal s, const forecast::ForecastBatch& f, int b, double threshold, int steps) {
  for (int q = 0; q < forecast::kNumQuantiles; ++q)
    for (int t = 0; t < std::min(steps, f.horizon); ++t)
      if (signal_quantile(s, q, f, b, t) >= threshold) return 1.f - forecast::kQuantiles[q];
  return 0.f;
}

}  // namespace

namespace {
constexpr int kP10Eta = 0, kP50Eta = 1, kP90Eta = 2;  // ThresholdEtas' path order
}  // namespace

ThresholdEtas time_to_thresholds(const WindowView& w, const forecast::ForecastBatch& f, int b,
                                 const float* thresholds) {
  constexpr Outlook kOutlooks[] = {Outlook::optimistic, Outlook::median, Outlook::pessimistic};
  ThresholdEtas etas{};
  for (int i = 0; i < kNumSignals; ++i) {
    const auto s = static_cast<Signal>(i);
    const double threshold = thresholds ? thresholds[i] : alert_threshold(s, w.profile);
    const bool already = w.length > 0 && signal_current(s, w) >= threshold;
    for (int o = 0; o < 3; ++o) etas[i][o] = already ? 0 : first_crossing(s, kOutlooks[o], f, b, threshold, w.step_ms);
  }
  return etas;
}

void detect_alerts(const WindowView& w, const forecast::ForecastBatch& f, int b, const RiskAssessment& risk,
                   const ThresholdEtas& etas, std::vector<Alert>& out, const AlertRules& rules,
                   int history_steps, const float* thresholds) {
  for (int i = 0; i < kNumSignals; ++i) {
    const auto s = static_cast<Signal>(i);
    const double threshold = thresholds ? thresholds[i] : alert_threshold(s, w.profile);
    const double current = signal_current(s, w);
    Alert a;
    a.server = w.server;
    a.signal = s;
    a.threshold = static_cast<float>(threshold);
    a.current = static_cast<float>(current);
    a.horizon_minutes = minutes_after(f.horizon, w.step_ms);
    if (w.length > 0 && current >= threshold) {
      a.eta_p90 = a.eta_p50 = a.eta_p10 = 0;  // every path starts above the threshold
      a.probability = 1.f;
      a.likely = true;
    } else {
      if (history_steps < rules.min_history_steps) continue;  // too little history for an ETA
      a.eta_p90 = etas[i][kP90Eta];
      if (a.eta_p90 == kNoCrossing) continue;  // no alert: not even the p90 path gets there
      a.eta_p50 = etas[i][kP50Eta];
      a.eta_p10 = etas[i][kP10Eta];
      a.likely = a.eta_p50 != kNoCrossing && a.eta_p50 <= rules.likely_minutes;
      if (!a.likely && a.eta_p90 > rules.possible_minutes) continue;
      a.window_minutes = std::min(a.likely ? rules.likely_minutes : rules.possible_minutes, a.horizon_minutes);
      a.probability = crossing_probability(s, f, b, threshold, steps_within(a.window_minutes, w.step_ms));
      if (!a.likely && a.probability < rules.possible_probability) continue;
    }
    a.level = std::max(level_for(risk.signal_risk[i]), Level::degraded);
    out.push_back(a);
  }
}

void detect_alerts(const WindowView& w, const forecast::ForecastBatch& f, int b,
                   const RiskAssessment& risk, std::vector<Alert>& out, const AlertRules& rules,
                   int history_steps, const float* thresholds) {
  detect_alerts(w, f, b, risk, time_to_thresholds(w, f, b, thresholds), out, rules, history_steps, thresholds);
}

void drop_routine_alerts(std::vector<Alert>& alerts, const std::array<float, kNumSignals>& over_share,
                         const AlertRules& rules) {
  if (rules.routine_over_share >= 1.0f) return;  // off (even for a signal over its threshold all day)
  const auto routine = [&](const Alert& a) {
    if (over_share[static_cast<int>(a.signal)] < rules.routine_over_share) return false;
    const bool measured = a.eta_p90 == 0 && a.eta_p50 == 0;
    return !measured && (a.climb || !a.likely);
  };
  std::erase_if(alerts, routine);
}

forecast::Ramps toward_thresholds(const forecast::Ramps& ramps) {
  forecast::Ramps out{};
  for (int i = 0; i < kNumSignals; ++i) {
    const int k = metric_of_signal(static_cast<Signal>(i));
    const bool falls_toward = static_cast<Signal>(i) == Signal::cpu;  // CPU used = 100 − idle
    const forecast::Ramp& r = ramps[k];
    if (r.present && (falls_toward ? r.slope < 0 : r.slope > 0)) out[k] = r;
  }
  return out;
}

void detect_alerts_with_climbs(const WindowView& w, const forecast::ForecastBatch& f, int b, const RiskAssessment& risk,
                               const ThresholdEtas& served_etas, const forecast::Ramps& climbs,
                               forecast::ForecastBatch& outlook, std::vector<Alert>& out, const AlertRules& rules,
                               int history_steps, const float* thresholds) {
  const forecast::Ramps toward = toward_thresholds(climbs);
  if (std::none_of(toward.begin(), toward.end(), [](const forecast::Ramp& r) { return r.present; })) {
    detect_alerts(w, f, b, risk, served_etas, out, rules, history_steps, thresholds);
    return;
  }
  if (outlook.batch != 1 || outlook.horizon != f.horizon) outlook.resize(1, f.horizon);
  const float* row = f.values.data() + static_cast<size_t>(b) * f.server_stride();
  std::copy(row, row + f.server_stride(), outlook.values.begin());
  forecast::continue_ramps(toward, f.horizon, w.step_ms, outlook.values.data());
  const ThresholdEtas etas = time_to_thresholds(w, outlook, 0, thresholds);
  const size_t first = out.size();
  detect_alerts(w, outlook, 0, risk, etas, out, rules, history_steps, thresholds);
  for (size_t i = first; i < out.size(); ++i) {
    const int s = static_cast<int>(out[i].signal);
    out[i].climb = etas[s] != served_etas[s];
  }
}

std::string eta_text(const Alert& a) {
  if (a.eta_p90 == 0 && a.eta_p50 == 0) return "now";
  const std::string never = "not within " + format_duration(a.horizon_minutes);
  if (a.eta_p50 == kNoCrossing) return fmt::format("possibly in ~{}; median {}", format_duration(a.eta_p90), never);
  if (a.eta_p10 == kNoCrossing)
    return fmt::format("in ~{} ({} – {})", format_duration(a.eta_p50), format_duration(a.eta_p90), never);
  return fmt::format("in ~{} ({})", format_duration(a.eta_p50), format_range(a.eta_p90, a.eta_p10));
}

std::string alert_message(const Alert& a) {
  const std::string name{signal_name(a.signal)};
  const std::string thr = format_value(a.signal, a.threshold);
  if (a.eta_p90 == 0 && a.eta_p50 == 0)
    return fmt::format("{} at {} (threshold {}) now", name, format_value(a.signal, a.current), thr);
  return fmt::format("{} {} {}{}", name, thr, eta_text(a), a.climb ? ", on a steady climb" : "");
}

bool more_urgent(const Alert& a, const Alert& b) {
  if (a.level != b.level) return a.level > b.level;
  if (a.eta_p90 != b.eta_p90) return urgency_key(a.eta_p90) < urgency_key(b.eta_p90);
  if (a.eta_p50 != b.eta_p50) return urgency_key(a.eta_p50) < urgency_key(b.eta_p50);
  if (a.eta_p10 != b.eta_p10) return urgency_key(a.eta_p10) < urgency_key(b.eta_p10);
  if (a.server != b.server) return a.server < b.server;
  return a.signal < b.signal;
}

}  // namespace nordiq::risk
