#include "forecast/skill_tracker.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "forecast/baseline.hpp"
#include "forecast/normalizer.hpp"

namespace nordiq::forecast {

namespace {

constexpr int kServedSlot = kNumCandidates;  // index of the served forecast in Pending::q

// Floor division, so negative step numbers (before 1970) stay aligned too.
int64_t step_number(EpochMs t, int64_t step_ms) { return t / step_ms - (t % step_ms < 0); }
int64_t positive_mod(int64_t a, int64_t m) { return ((a % m) + m) % m; }

// |y − p50| over the band's half-width on y's side: ≤ w means inside the band scaled by w.
float band_ratio(float y, float p10, float p50, float p90, float floor) {
  return y >= p50 ? (y - p50) / std::max(p90 - p50, floor) : (p50 - y) / std::max(p50 - p10, floor);
}

}  // namespace

SkillTracker::SkillTracker(int64_t step_ms, int horizon)
    : step_ms_(step_ms), horizon_(horizon), bands_(horizon_bands(step_ms, horizon)) {
  if (step_ms <= 0 || horizon < 1) throw std::invalid_argument("skill tracker: step and horizon must be > 0");
  // Every forecast step belongs to a band; steps past the last band that fits count in it.
  band_of_step_.assign(static_cast<size_t>(horizon), 0);
  int last_valid = 0;
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    if (!bands_[b].valid()) continue;
    last_valid = b;
    for (int t = bands_[b].first; t < bands_[b].end; ++t) band_of_step_[t] = static_cast<uint8_t>(b);
    stride_[b] = (bands_[b].end + kPendingPerBand - 1) / kPendingPerBand;
    window_samples_[b] = static_cast<int>(std::max<int64_t>(1, kSkillWindowMs / (stride_[b] * step_ms)));
    rate_[b] = kCalibrationRate * std::sqrt(static_cast<float>(stride_[b]));
  }
  const int covered = bands_[last_valid].valid() ? bands_[last_valid].end : 0;
  for (int t = covered; t < horizon; ++t) band_of_step_[t] = static_cast<uint8_t>(last_valid);
}

SkillTracker::ServerState& SkillTracker::state(ServerId server) {
  if (server >= servers_.size()) servers_.resize(static_cast<size_t>(server) + 1);
  if (!servers_[server]) servers_[server] = std::make_unique<ServerState>();
  return *servers_[server];
}

void SkillTracker::restart_scoring() {
  for (auto& s : servers_) {
    if (!s) continue;
    for (auto& metric : s->bands)
      for (BandSkill& bs : metric) {
        bs.samples = 0;  // next score: alpha = 1
        bs.served = Candidate::model;
        bs.width[static_cast<int>(Candidate::model)] = 1.f;
      }
    for (auto& band : s->pending)
      for (Pending& p : band) p.target = 0;
  }
}

EpochMs SkillTracker::observed_through(ServerId server) const {
  return server < servers_.size() && servers_[server] ? servers_[server]->observed_through : 0;
}

const ServerBands* SkillTracker::find(ServerId server) const {
  return server < servers_.size() && servers_[server] ? &servers_[server]->bands : nullptr;
}

void SkillTracker::observe(ServerId server, EpochMs first_step, int steps, const float* rows) {
  if (steps <= 0) return;
  ServerState& s = state(server);
  const EpochMs last = first_step + (steps - 1) * step_ms_;
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    if (!bands_[b].valid()) continue;
    for (Pending& p : s.pending[b]) {
      if (p.target == 0 || p.target > last) continue;
      if (p.target >= first_step && (p.target - first_step) % step_ms_ == 0)
        score(s, b, p, rows + (p.target - first_step) / step_ms_ * kNumMetrics);
      p.target = 0;
    }
  }
  s.observed_through = std::max(s.observed_through, last);
}

void SkillTracker::score(ServerState& s, int b, const Pending& p, const float* actual) {
  for (int k = 0; k < kNumMetrics; ++k) {
    BandSkill& bs = s.bands[k][b];
    const float y = actual[k];
    const auto& q = p.q[k];
    ++bs.samples;
    const float alpha = 1.f / static_cast<float>(std::min<int64_t>(bs.samples, window_samples_[b]));
    const float floor = static_cast<float>(kBaselineMinSigma[k]) * 0.1f;
    for (int c = 0; c < kNumCandidates; ++c) {
      const float p10 = q[3 * c], p50 = q[3 * c + 1], p90 = q[3 * c + 2];
      bs.abs_err[c] += alpha * (std::fabs(y - p50) - bs.abs_err[c]);
      const bool miss = band_ratio(y, p10, p50, p90, floor) > bs.width[c];
      bs.width[c] = std::clamp(bs.width[c] * std::exp(rate_[b] * (miss ? kTargetCoverage : kTargetCoverage - 1.f)),
                               kMinWidthFactor, kMaxWidthFactor);
    }
    const float s10 = q[3 * kServedSlot], s50 = q[3 * kServedSlot + 1], s90 = q[3 * kServedSlot + 2];
    bs.served_abs_err += alpha * (std::fabs(y - s50) - bs.served_abs_err);
    bs.served_coverage += alpha * ((s10 <= y && y <= s90 ? 1.f : 0.f) - bs.served_coverage);
    // Hysteresis: a challenger must be clearly better, on enough evidence, to take over.
    if (bs.samples < kMinSamplesToSwitch) continue;
    const int best = static_cast<int>(std::min_element(bs.abs_err.begin(), bs.abs_err.end()) - bs.abs_err.begin());
    const int incumbent = static_cast<int>(bs.served);
    if (best != incumbent && bs.abs_err[best] < (1.f - kSwitchMargin) * bs.abs_err[incumbent]) {
      bs.served = static_cast<Candidate>(best);
      ++bs.switches;
    }
  }
}

void SkillTracker::serve(ServerId server, EpochMs last_step,
                         const std::array<const float*, kNumCandidates>& candidates, float* out,
                         uint8_t* served_by) {
  ServerState& s = state(server);
  const size_t path_len = static_cast<size_t>(horizon_);
  auto offset = [&](int k, int q) { return (static_cast<size_t>(k) * kNumQuantiles + q) * path_len; };
  auto path = [&](const float* v, int k, int q) { return v + offset(k, q); };
  for (int k = 0; k < kNumMetrics; ++k) {
    // Runs of steps in one band share the candidate and its band factor.
    for (int t0 = 0; t0 < horizon_;) {
      const int band = band_of_step_[t0];
      int t1 = t0 + 1;
      while (t1 < horizon_ && band_of_step_[t1] == band) ++t1;
      const BandSkill& bs = s.bands[k][band];
      const float* cand = candidates[static_cast<int>(bs.served)];
      const float w = bs.width[static_cast<int>(bs.served)];
      const float* p50 = path(cand, k, kP50);
      for (int q = 0; q < kNumQuantiles; ++q) {
        const float* src = path(cand, k, q);
        float* dst = out + offset(k, q);
        for (int t = t0; t < t1; ++t)
          dst[t] = q == kP50 ? p50[t] : clamp_to_range(k, p50[t] + w * (src[t] - p50[t]), p50[t]);
      }
      t0 = t1;
    }
    if (served_by)
      for (int b = 0; b < kNumEvalHorizons; ++b) served_by[k * kNumEvalHorizons + b] = static_cast<uint8_t>(s.bands[k][b].served);
  }
  // Keep this origin's forecasts at one step of each band, to score when the actual arrives.
  const int64_t origin = step_number(last_step, step_ms_);
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    if (!bands_[b].valid() || positive_mod(origin, stride_[b]) != 0) continue;
    const int64_t sample = origin / stride_[b];
    Pending& p = s.pending[b][static_cast<size_t>(positive_mod(sample, kPendingPerBand))];
    // The scored step walks through the band, so the score is the band's and not one step's
    // (a horizon of whole hours would flatter persistence on hourly patterns).
    const int t = bands_[b].first + static_cast<int>(positive_mod(sample, bands_[b].end - bands_[b].first));
    p.target = last_step + (t + 1) * step_ms_;
    for (int k = 0; k < kNumMetrics; ++k) {
      for (int c = 0; c <= kNumCandidates; ++c) {
        const float* v = c < kNumCandidates ? candidates[c] : out;
        p.q[k][3 * c] = path(v, k, kP10)[t];
        p.q[k][3 * c + 1] = path(v, k, kP50)[t];
        p.q[k][3 * c + 2] = path(v, k, kP90)[t];
      }
    }
  }
}

DriftSummary summarize_drift(const SkillTracker& tracker) {
  DriftSummary d;
  for (ServerId id = 0; id < tracker.servers(); ++id) {
    const ServerBands* bands = tracker.find(id);
    if (!bands) continue;
    bool scored = false;
    for (int k = 0; k < kNumMetrics; ++k)
      for (int b = 0; b < kNumEvalHorizons; ++b) {
        const BandSkill& bs = (*bands)[k][b];
        if (bs.samples == 0) continue;
        scored = true;
        DriftCell& c = d.cells[k][b];
        for (int i = 0; i < kNumCandidates; ++i) c.abs_err[i] += bs.abs_err[i];
        c.served_abs_err += bs.served_abs_err;
        c.served_coverage += bs.served_coverage;
        c.served_by[static_cast<int>(bs.served)]++;
        d.served_by[static_cast<int>(bs.served)]++;
        c.servers++;
        c.samples += bs.samples;
      }
    d.servers_scored += scored;
  }
  // Means over servers; skill from the means (1 − served error / persistence's error).
  int cells = 0;
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    DriftCell& o = d.overall[b];
    int metrics = 0;
    for (int k = 0; k < kNumMetrics; ++k) {
      DriftCell& c = d.cells[k][b];
      if (c.servers == 0) continue;
      for (double& e : c.abs_err) e /= c.servers;
      c.served_abs_err /= c.servers;
      c.served_coverage /= c.servers;
      const double lv = c.abs_err[static_cast<int>(Candidate::last_value)];
      c.skill = lv > 0 ? 1.0 - c.served_abs_err / lv : 0.0;
      o.skill += c.skill;
      o.served_coverage += c.served_coverage;
      for (int i = 0; i < kNumCandidates; ++i) o.served_by[i] += c.served_by[i];
      o.samples += c.samples;
      o.servers = std::max(o.servers, c.servers);
      ++metrics;
    }
    if (metrics == 0) continue;
    o.skill /= metrics;
    o.served_coverage /= metrics;
    d.skill += o.skill * metrics;
    d.coverage += o.served_coverage * metrics;
    cells += metrics;
  }
  if (cells > 0) {
    d.skill /= cells;
    d.coverage /= cells;
  }
  return d;
}

}  // namespace nordiq::forecast
