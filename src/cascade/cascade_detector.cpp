#include "cascade/cascade_detector.hpp"

#include <algorithm>
#include <cmath>

namespace nordiq::cascade {

bool depends_on(Profile downstream, Profile upstream) {
  switch (upstream) {
    case Profile::database:
      return downstream == Profile::web_api || downstream == Profile::data_ingest ||
             downstream == Profile::risk_analytics || downstream == Profile::conductor_mgmt;
    case Profile::conductor_mgmt:
    case Profile::data_ingest:
      return downstream == Profile::ml_compute;
    default:
      return false;
  }
}

namespace {

bool is_upstream(Profile p) {
  return p == Profile::database || p == Profile::conductor_mgmt || p == Profile::data_ingest;
}

// The watched metrics whose rise means a server's own resources are short: cpu user, cpu sys,
// iowait, memory (the first four of kWatchedMetrics).
bool is_pressure(int watched) { return watched >= 0 && watched <= 3; }

// Whether a change of a watched metric is what a service shows when what it depends on fails: it
// piles up work (connections in close-wait, load, system CPU or memory up) or starves (user CPU,
// network or load down). Its own CPU or network rising, or its iowait moving, is its own business.
bool is_dependency_symptom(int watched, double z) {
  switch (kWatchedMetrics[watched]) {
    case Metric::back_close_wait:
    case Metric::front_close_wait:
    case Metric::cpu_sys_pct:
      return z > 0;
    case Metric::cpu_user_pct:
    case Metric::net_in_mb_s:
    case Metric::net_out_mb_s:
      return z < 0;
    case Metric::load_average:
    case Metric::mem_used_pct:
      return true;
    default:
      return false;
  }
}

bool reports_own_change(const WindowView& w) {
  if (w.status == nullptr) return false;
  const auto s = static_cast<Status>(w.status[w.length - 1]);
  return s == Status::idle || s == Status::maintenance;
}

}  // namespace

bool CascadeDetector::Track::deviating() const {
  return std::any_of(run.begin(), run.end(), [](uint16_t r) { return r >= 2; });
}

void CascadeDetector::observe(ServerId id, std::string_view name, const WindowView& w) {
  if (w.length <= 0) return;
  if (id >= tracks_.size()) tracks_.resize(static_cast<size_t>(id) + 1);
  Track& t = tracks_[id];
  if (!t.seen) t.name = std::string(name);
  // Every step closed since the last observation, in order: a burst of steps (a backfill, a slow
  // cycle) is judged step by step, as if each had been observed on its own.
  int first = 0;
  if (t.seen) {
    if (w.last_step() <= t.last_step) return;  // nothing new
    first = static_cast<int>(std::max<int64_t>(0, (t.last_step - w.first_step) / w.step_ms + 1));
  }
  first = std::max(first, w.length - kMaxCatchUpSteps);
  t.seen = true;
  t.profile = w.profile;
  t.step_ms = w.step_ms;
  for (int end = first + 1; end <= w.length; ++end) {
    WindowView upto = w;
    upto.length = end;
    t.last_step = upto.last_step();
    t.self_explained = reports_own_change(upto);
    if (const std::optional<Baseline> b = fit_baseline(upto, params_.anomaly)) observe_metrics(t, upto, *b);
  }
}

void CascadeDetector::observe_metrics(Track& t, const WindowView& w, const Baseline& b) {
  const AnomalyParams& p = params_.anomaly;
  double largest = 0;
  for (int i = 0; i < kNumWatched; ++i) {
    t.present[i] = present_value(w, p, i);
    const double z = (t.present[i] - b.level[i]) / b.spread[i];
    largest = std::max(largest, std::fabs(z));
    // A run starts only where yesterday looked different (not the daily cycle); it goes on while
    // the metric stays off its normal. For its first hour the normal from before the run is kept;
    // after that the recent normal, which takes in a plateau within about 2 h: the run then ends,
    // and a further change on top of the plateau fires anew.
    const bool frozen = t.run[i] > 0 && t.run[i] < kFrozenRunSteps;
    const double run_z = frozen ? (t.present[i] - t.run_level[i]) / t.run_spread[i] : z;
    const bool deviates = std::fabs(run_z) >= p.enter_z && (t.run[i] > 0 || differs_from_yesterday(w, b, p, i));
    if (!deviates) {
      t.run[i] = 0;
      continue;
    }
    if (t.run[i] == 0) {
      t.run_start[i] = t.last_step;
      t.run_level[i] = b.level[i];
      t.run_spread[i] = b.spread[i];
    }
    if (t.run[i] < UINT16_MAX) ++t.run[i];
    if (t.run[i] == params_.enter_steps) {
      t.run_fire[i] = t.fire_count;
      Fire& f = t.fires[t.fire_count++ % kFires];
      f = {t.run_start[i], i, static_cast<float>(run_z), t.run_level[i], t.run_spread[i], is_pressure(i) && run_z > 0,
           is_dependency_symptom(i, run_z)};
    } else if (t.run[i] > params_.enter_steps && t.fire_count - t.run_fire[i] <= kFires) {
      // The run goes on: its change keeps the largest deviation it reached (a ramp grows).
      Fire& f = t.fires[t.run_fire[i] % kFires];
      if (std::fabs(run_z) > std::fabs(f.z) && (run_z > 0) == (f.z > 0)) f.z = static_cast<float>(run_z);
    }
  }
  t.history[t.history_count++ % kHistory] = static_cast<float>(std::min(20.0, largest));
}

const CascadeDetector::Fire* CascadeDetector::latest_fire(const Track& t, EpochMs from, EpochMs to,
                                                          FireKind kind) const {
  const Fire* best = nullptr;
  for (int k = 0; k < std::min(t.fire_count, kFires); ++k) {
    const Fire& f = t.fires[k];
    const bool wanted = kind == FireKind::pressure ? f.pressure && f.z >= params_.source_z : f.symptom;
    if (f.onset < from || f.onset > to || !wanted) continue;
    if (best == nullptr || f.onset > best->onset || (f.onset == best->onset && std::fabs(f.z) > std::fabs(best->z)))
      best = &f;
  }
  return best;
}

std::vector<ServerId> CascadeDetector::aligned_dependents(ServerId source, EpochMs onset, EpochMs now) const {
  const Profile upstream = tracks_[source].profile;
  std::vector<ServerId> out;
  for (ServerId id = 0; id < tracks_.size(); ++id) {
    const Track& t = tracks_[id];
    if (id == source || !t.seen || t.self_explained || !live(t, now) || !depends_on(t.profile, upstream)) continue;
    if (latest_fire(t, onset - params_.align_ms, onset + params_.align_ms, FireKind::symptom)) out.push_back(id);
  }
  return out;
}

double CascadeDetector::correlation(const Track& a, const Track& b) const {
  const int n = std::min({a.history_count, b.history_count, kHistory});
  if (n < 3) return 0;
  auto at = [](const Track& t, int back) { return static_cast<double>(t.history[(t.history_count - 1 - back) % kHistory]); };
  double ma = 0, mb = 0;
  for (int i = 0; i < n; ++i) {
    ma += at(a, i);
    mb += at(b, i);
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (int i = 0; i < n; ++i) {
    const double da = at(a, i) - ma, db = at(b, i) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0;
}

CascadeMember CascadeDetector::member(ServerId id, const Fire& f) const {
  const Track& t = tracks_[id];
  return {t.name, t.profile, f.onset, f.z, kWatchedMetrics[f.watched], id};
}

CascadeMember CascadeDetector::current_member(ServerId id) const {
  const Track& t = tracks_[id];
  CascadeMember m{t.name, t.profile, 0, 0, Metric::cpu_user_pct, id};
  for (int i = 0; i < kNumWatched; ++i) {
    if (t.run[i] < params_.enter_steps) continue;
    const double z = (t.present[i] - t.run_level[i]) / t.run_spread[i];
    if (std::fabs(z) > std::fabs(m.z)) m = {t.name, t.profile, t.run_start[i], z, kWatchedMetrics[i], id};
  }
  return m;
}

Cascade CascadeDetector::describe(ServerId source, const Fire& fire, const std::vector<ServerId>& dependents,
                                  EpochMs now) const {
  Cascade c;
  c.source = member(source, fire);
  c.started_at = fire.onset;
  c.detected_at = now;
  double corr = 0;
  for (ServerId d : dependents) {
    const Fire* f = latest_fire(tracks_[d], fire.onset - params_.align_ms, fire.onset + params_.align_ms, FireKind::symptom);
    c.dependents.push_back(member(d, *f));
    corr += correlation(tracks_[source], tracks_[d]);
  }
  c.correlation = dependents.empty() ? 0 : corr / static_cast<double>(dependents.size());
  return c;
}

const CascadeDetector::Open* CascadeDetector::open_from(ServerId source) const {
  for (const Open& o : open_)
    if (o.source == source) return &o;
  return nullptr;
}

void CascadeDetector::evaluate(EpochMs now, std::vector<CascadeEvent>& events) {
  status_ = CascadeStatus{};
  status_.evaluated_at = now;
  // Candidate sources: upstream servers with a fresh rise of their own pressure, strongest first.
  std::vector<std::pair<ServerId, Fire>> candidates;
  for (ServerId id = 0; id < tracks_.size(); ++id) {
    const Track& t = tracks_[id];
    if (!t.seen || !live(t, now)) continue;
    ++status_.servers;
    if (t.deviating()) {
      ++status_.anomalous;
      status_.anomalous_servers.push_back(current_member(id));
    }
    if (!is_upstream(t.profile)) continue;
    const Fire* fire = latest_fire(t, now - params_.source_window_ms, now, FireKind::pressure);
    // A source already in a cascade is a candidate again only with a newer change of its own (a
    // server in trouble for hours whose dependants start to suffer later).
    const Open* open = open_from(id);
    if (fire && (open == nullptr || fire->onset > open->fire.onset)) candidates.emplace_back(id, *fire);
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) { return a.second.z > b.second.z; });
  // A dependant's change is explained once: by an open cascade, or by the strongest new source.
  claimed_.assign(tracks_.size(), 0);
  for (const Open& o : open_)
    for (const CascadeMember& d : o.cascade.dependents) claimed_[d.id] = 1;
  bool watch = false;
  for (const auto& [id, fire] : candidates) {
    std::vector<ServerId> deps = aligned_dependents(id, fire.onset, now);
    std::erase_if(deps, [&](ServerId d) { return claimed_[d] != 0; });
    if (static_cast<int>(deps.size()) < params_.min_dependents) {
      watch |= !deps.empty();
      continue;
    }
    Open o{describe(id, fire, deps, now), id, fire, 0};
    if (o.cascade.correlation < params_.min_correlation) {
      watch = true;
      continue;
    }
    o.cascade.id = next_id_++;
    for (ServerId d : deps) claimed_[d] = 1;
    // The source's older cascade, if any, is superseded by this one.
    if (auto old = std::find_if(open_.begin(), open_.end(), [&](const Open& x) { return x.source == id; });
        old != open_.end()) {
      events.push_back({CascadeEventKind::ended, now, old->cascade});
      open_.erase(old);
    }
    events.push_back({CascadeEventKind::started, now, o.cascade});
    open_.push_back(std::move(o));
  }
  // Refresh the open cascades (late dependants join) and close those whose source has recovered.
  for (auto it = open_.begin(); it != open_.end();) {
    const Track& s = tracks_[it->source];
    const double z = (s.present[it->fire.watched] - it->fire.level) / it->fire.spread;
    const bool pressure = live(s, now) && z >= params_.exit_z;
    it->missing = pressure ? 0 : it->missing + 1;
    const std::vector<ServerId> deps = aligned_dependents(it->source, it->fire.onset, now);
    if (deps.size() > it->cascade.dependents.size()) {
      const Cascade fresh = describe(it->source, it->fire, deps, now);
      it->cascade.dependents = fresh.dependents;
      it->cascade.correlation = fresh.correlation;
    }
    if (it->missing >= params_.end_after_evaluations || now - it->fire.onset > params_.max_cascade_ms) {
      events.push_back({CascadeEventKind::ended, now, it->cascade});
      it = open_.erase(it);
      continue;
    }
    status_.cascades.push_back(it->cascade);
    ++it;
  }
  std::sort(status_.cascades.begin(), status_.cascades.end(), [](const Cascade& a, const Cascade& b) {
    return a.dependents.size() != b.dependents.size() ? a.dependents.size() > b.dependents.size() : a.id < b.id;
  });
  status_.anomaly_rate = status_.servers > 0 ? static_cast<double>(status_.anomalous) / status_.servers : 0;
  status_.state = !status_.cascades.empty() ? FleetState::cascade : watch ? FleetState::watch : FleetState::normal;
  status_.cascade_risk = status_.state == FleetState::cascade ? 1.0
                         : status_.state == FleetState::watch ? 0.5
                                                              : std::min(0.49, status_.anomaly_rate);
}

}  // namespace nordiq::cascade
