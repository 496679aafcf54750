// Online accuracy of served forecasts (issue #10 item 3): the serving safety net. Every forecast
// a server is served is kept, at one fixed horizon per band (+5 min, +30 min, +1 h, +4 h, +8 h;
// forecast/horizons.hpp), together with the forecasts of the other candidates (the model, the
// robust classical forecaster, persistence with the robust band, and the robust forecaster's
// hourly variant: level + within-hour shape, no hour-of-day profile). When the actual arrives, each
// is scored: an exponentially weighted |y − p50| per (server, metric, band, candidate) over a
// rolling window of about two days, the served forecast's own error and p10–p90 coverage.
//
// What is served, per (server, metric, band):
// - the candidate with the lowest recent error, with hysteresis: a challenger takes over only
//   with ≥ kMinSamplesToSwitch scores behind it and an error ≥ kSwitchMargin below the incumbent's
//   (no flapping between two forecasters that are about as good); the model until then;
// - its band recalibrated: each candidate's p10/p90 offsets from its p50 are scaled by a factor w
//   that tracks the 80th percentile of |y − p50| / (band half-width on y's side) with a
//   stochastic-approximation step (w grows by e^{0.8η} after a miss, shrinks by e^{−0.2η} after
//   a hit: at equilibrium 20 % of actuals fall outside), so p10–p90 coverage stays near 80 %.
//   The other quantiles are scaled by the same factor, so they stay ordered.
//
// Pending forecasts: at horizon h (steps), one every ⌈h / kPendingPerBand⌉ origins (aligned on
// the global step number), so at most kPendingPerBand wait per band and a server costs ~20 KB
// whatever the horizon. Errors and coverage are in the metric's raw units. The tracker is
// causal: a choice made at origin t only uses actuals up to t. Single-threaded; one per forecast
// cycle owner.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "core/window.hpp"
#include "forecast/forecaster.hpp"
#include "forecast/horizons.hpp"

namespace nordiq::forecast {

enum class Candidate : uint8_t { model, robust_profile, last_value, robust_hourly };
inline constexpr int kNumCandidates = 4;
inline constexpr std::array<std::string_view, kNumCandidates> kCandidateNames = {
    "model", "robust_profile", "last_value", "robust_hourly"};

inline constexpr int kPendingPerBand = 6;
inline constexpr int64_t kSkillWindowMs = 2 * 86'400'000LL;
inline constexpr uint32_t kMinSamplesToSwitch = 12;
inline constexpr float kSwitchMargin = 0.10f;
inline constexpr float kTargetCoverage = 0.80f;
inline constexpr float kCalibrationRate = 0.05f;  // η at stride 1; × √stride for sparser bands
inline constexpr float kMinWidthFactor = 0.2f, kMaxWidthFactor = 10.f;

// One (server, metric, band).
struct BandSkill {
  static constexpr std::array<float, kNumCandidates> unit_widths() {
    std::array<float, kNumCandidates> w{};
    w.fill(1.f);
    return w;
  }
  std::array<float, kNumCandidates> abs_err{};                // EW mean |y − p50|
  std::array<float, kNumCandidates> width = unit_widths();    // band factor per candidate
  float served_abs_err = 0;   // EW mean |y − served p50|
  float served_coverage = 0;  // EW share of actuals inside the served p10–p90
  uint32_t samples = 0;
  uint32_t switches = 0;
  Candidate served = Candidate::model;
  // Skill of the served forecast against persistence: 1 − error / persistence's error.
  float skill() const {
    const float lv = abs_err[static_cast<int>(Candidate::last_value)];
    return lv > 0 ? 1.f - served_abs_err / lv : 0.f;
  }
};
using ServerBands = std::array<std::array<BandSkill, kNumEvalHorizons>, kNumMetrics>;

class SkillTracker {
 public:
  SkillTracker(int64_t step_ms, int horizon);

  // Scores `server`'s pending forecasts against actuals: `steps` rows of kNumMetrics values, for
  // the consecutive steps first_step, first_step + step, ... Targets before the first row can no
  // longer be scored (a gap or a restart) and are dropped.
  void observe(ServerId server, EpochMs first_step, int steps, const float* rows);
  // Writes the served forecast of `server` at origin last_step (out: [K][Q][horizon], raw units)
  // from the candidates' forecasts (same layout, in Candidate order), records the forecasts to
  // score later, and, when served_by is given, which candidate serves each [metric][band].
  void serve(ServerId server, EpochMs last_step, const std::array<const float*, kNumCandidates>& candidates,
             float* out, uint8_t* served_by = nullptr);

  // After the model changed (a hot reload): the errors measured so far belong to another model,
  // so every (server, metric, band) restarts its error record (the first new score replaces it),
  // serves the model again and drops the old model's pending forecasts. The classical
  // candidates' band calibration is kept: it does not depend on the model.
  void restart_scoring();

  // Creates `server`'s state now: observe and serve of distinct servers may then run on several
  // threads at once (each touches only its server's state).
  void reserve(ServerId server) { state(server); }

  // The newest step scored for `server` (0: none yet).
  EpochMs observed_through(ServerId server) const;
  const ServerBands* find(ServerId server) const;
  size_t servers() const { return servers_.size(); }
  const std::array<StepBand, kNumEvalHorizons>& bands() const { return bands_; }
  int64_t step_ms() const { return step_ms_; }
  int horizon() const { return horizon_; }

 private:
  struct Pending {
    EpochMs target = 0;  // 0 = empty
    // Per metric: p10, p50, p90 of each candidate (uncalibrated), then of the served forecast.
    std::array<std::array<float, 3 * (kNumCandidates + 1)>, kNumMetrics> q{};
  };
  struct ServerState {
    ServerBands bands;
    std::array<std::array<Pending, kPendingPerBand>, kNumEvalHorizons> pending;
    EpochMs observed_through = 0;
  };
  ServerState& state(ServerId server);
  void score(ServerState& s, int band, const Pending& p, const float* actual);

  int64_t step_ms_;
  int horizon_;
  std::array<StepBand, kNumEvalHorizons> bands_;
  std::array<int, kNumEvalHorizons> stride_{}, window_samples_{};  // per tracked band
  std::array<float, kNumEvalHorizons> rate_{};
  std::vector<uint8_t> band_of_step_;  // [horizon]
  std::vector<std::unique_ptr<ServerState>> servers_;  // index = ServerId
};

// The fleet's view of one (metric, band), averaged over the servers with scores.
struct DriftCell {
  std::array<double, kNumCandidates> abs_err{};
  double served_abs_err = 0, served_coverage = 0, skill = 0;
  std::array<int, kNumCandidates> served_by{};  // servers served by each candidate
  int servers = 0;
  int64_t samples = 0;
};
struct DriftSummary {
  std::array<std::array<DriftCell, kNumEvalHorizons>, kNumMetrics> cells{};
  std::array<DriftCell, kNumEvalHorizons> overall{};  // per band: metrics averaged (skill, coverage)
  int servers_scored = 0;
  double skill = 0, coverage = 0;  // over every scored (metric, band)
  std::array<int64_t, kNumCandidates> served_by{};  // (server, metric, band) triples
};
DriftSummary summarize_drift(const SkillTracker& tracker);

}  // namespace nordiq::forecast
