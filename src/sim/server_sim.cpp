#include "sim/server_sim.hpp"

#include <algorithm>
#include <cmath>

namespace nordiq::sim {

namespace {

// CPU parts in hundredths: scaled down so user + sys + iowait ≤ 100.00, the rounding shortfall
// given to the largest; returns idle, which makes the four sum to exactly 100.00.
int64_t cpu_idle_after_fit(int64_t& U, int64_t& S, int64_t& I) {
  const int64_t sum = U + S + I;
  if (sum > 10000) {
    U = U * 10000 / sum;
    S = S * 10000 / sum;
    I = I * 10000 / sum;
    const int64_t shortfall = 10000 - (U + S + I);
    if (U >= S && U >= I)
      U += shortfall;
    else if (S >= I)
      S += shortfall;
    else
      I += shortfall;
  }
  return 10000 - U - S - I;
}

// The family's driven value follows s through (0, V₀), (1, degrading peak), (2, critical peak).
double drive(double s, double v0, const FamilyTargets& t) {
  if (s <= 0) return v0;
  if (s <= 1) return v0 + (t.degrading_peak - v0) * s;
  return t.degrading_peak + (t.critical_peak - t.degrading_peak) * (std::min(s, 2.0) - 1.0);
}

// Intensity phase → the episode status of §6.3.
Status phase_status(Phase ph, bool second_half, double s, bool critical) {
  switch (ph) {
    case Phase::ramp:
      if (critical) return second_half ? Status::critical_issue : Status::heavy_load;
      return s >= 0.5 ? Status::heavy_load : Status::healthy;
    case Phase::hold: return critical ? Status::critical_issue : Status::heavy_load;
    case Phase::ramp_down: return Status::recovery;
    case Phase::none: break;
  }
  return Status::idle;  // the mildest: never wins against the Markov state
}

int32_t hundredths(double v, double lo, double hi) {
  const double c = std::clamp(v, lo, hi);
  return static_cast<int32_t>(std::llround(c * 100.0));
}

constexpr unsigned bit(Family f) { return 1u << static_cast<int>(f); }

}  // namespace

ServerSim::ServerSim(const SimConfig& cfg, const Fleet& fleet, int index)
    : cfg_(cfg), fleet_(fleet), spec_(fleet[index]), index_(index) {
  step_ms_ = cfg.step_ms();
  start_abs_ = cfg.start / step_ms_;
  const double ratio = cfg.step_s / 300.0;
  phi_ = std::pow(0.6, ratio);
  phi_fall_ = std::pow(0.95, ratio);
  step_days_ = cfg.step_s / 86400.0;
  max_event_steps_ = duration_steps(8 * 3'600'000, step_ms_) + 2;

  static_rng_ = Rng::substream(spec_.key, StreamId::static_);
  state_rng_ = Rng::substream(spec_.key, StreamId::state);
  noise_rng_ = Rng::substream(spec_.key, StreamId::noise);
  // The first static uniform decided problem-child status (fleet.cpp); draw it again so the
  // stream continues from the same place.
  (void)static_rng_.uniform();
  const auto& b = profile_base(spec_.profile);
  disk_level_ = std::clamp(b.disk.mean + b.disk.sd * static_rng_.normal(), b.disk.mean - 2 * b.disk.sd,
                           b.disk.mean + 2 * b.disk.sd);
  uptime_ = static_rng_.uniform(1.0, 90.0);

  for (size_t e = 0; e < kCascadeEdges.size(); ++e) upstream_[e].server = spec_.upstream[e];
  if (cfg.regimes) regimes_.emplace(spec_.key, cfg);

  // The week before the start too, so an episode running across the start is in place.
  generated_week_ = week_of(cfg.start) - 2;
  ensure_week(week_of(cfg.start));
}

void ServerSim::ensure_week(int64_t week) {
  while (generated_week_ < week) generate_week(++generated_week_);
}

void ServerSim::generate_week(int64_t week) {
  for (auto& e : draw_week_episodes(spec_.key, spec_.problem_child, week, cfg_)) admit_episode(episodes_, e);
  auto own = draw_week_cascades(spec_.key, spec_.profile, spec_.problem_child, week, cfg_);
  own_events_.insert(own_events_.end(), own.begin(), own.end());
  for (auto& up : upstream_) {
    if (up.server < 0) continue;
    const ServerSpec& u = fleet_[up.server];
    auto ev = draw_week_cascades(u.key, u.profile, u.problem_child, week, cfg_);
    up.events.insert(up.events.end(), ev.begin(), ev.end());
  }
}

double ServerSim::cascade_c(const std::vector<CascadeEvent>& events, int64_t a, Phase* phase, bool* late) const {
  // Overlapping events combine by max; only the last few can be active (they last < 8 h).
  double best = 0;
  Phase best_phase = Phase::none;
  bool best_late = false;
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->start > a) continue;
    if (it->start + max_event_steps_ < a) break;  // earlier events all ended long ago
    Phase ph;
    bool l;
    const double c = it->envelope(a, &ph, &l);
    if (ph != Phase::none && (c > best || best_phase == Phase::none)) {
      best = c;
      best_phase = ph;
      best_late = l;
    }
  }
  if (phase) *phase = best_phase;
  if (late) *late = best_late;
  return best;
}

double ServerSim::smooth(int q, double mu, double sigma, double z, double phi) {
  double y;
  if (!started_)
    y = mu + 0.5 * sigma * z;
  else
    y = phi * y_[q] + (1.0 - phi) * mu + 0.5 * sigma * std::sqrt(1.0 - phi * phi) * z;
  y_[q] = std::max(0.0, y);
  return y_[q];
}

void ServerSim::step_base(const StepClock& clock, const ExternalOverlay* ext, SimRecord& out) {
  const int64_t a = clock.abs_step;
  ensure_week(clock.week);
  const auto& b = profile_base(spec_.profile);
  advance_state(a, clock);

  // Twelve normals every step, even offline, so the noise stream never shifts.
  std::array<double, kNumQ> z;
  for (auto& v : z) v = noise_rng_.normal();

  // Disk grows (and is cleaned up) whether or not the server reports.
  disk_level_ += b.disk_growth_per_day * step_days_;
  if (clock.cleanup && disk_level_ >= b.disk.mean + b.disk.sd)
    disk_level_ = b.disk.mean - b.disk.sd + static_rng_.uniform(0.0, b.disk.sd);

  if (markov_ == Status::offline) {
    out.online = false;
    return;
  }
  const Overlays o = gather_overlays(a, ext);
  emit(a, o, targets(clock, o), z, out);
}

// 1. Markov state (one uniform, always), then any incident crash.
void ServerSim::advance_state(int64_t a, const StepClock& clock) {
  const Status prev = markov_;
  {
    std::array<double, kNumStatuses> row;
    markov_row(markov_, clock.hour, clock.weekday, spec_.problem_child, cfg_.step_s / 300.0, row);
    const double u = state_rng_.uniform();
    double acc = 0;
    Status next = markov_;
    for (int i = 0; i < kNumStatuses; ++i) {
      acc += row[i];
      if (u < acc) {
        next = static_cast<Status>(i);
        break;
      }
    }
    markov_ = next;
  }
  while (episode_cursor_ < episodes_.size() && episodes_[episode_cursor_].end <= a) {
    const Episode& done = episodes_[episode_cursor_];
    if (done.crash && !done.escalated && done.end == a && a == done.crash_step()) markov_ = Status::offline;
    ++episode_cursor_;
  }
  if (markov_ == Status::recovery && (prev == Status::offline || prev == Status::maintenance)) uptime_ = 0;
  if (markov_ == Status::critical_issue && prev != Status::critical_issue) spells_.push_back({a, -1});
  if (prev == Status::critical_issue && markov_ != Status::critical_issue && !spells_.empty() &&
      spells_.back().end < 0)
    spells_.back().end = a;
}

// The background episode, own cascade events, the bound upstreams, scenarios.
ServerSim::Overlays ServerSim::gather_overlays(int64_t a, const ExternalOverlay* ext) {
  Overlays o;
  o.status = markov_;
  if (episode_cursor_ < episodes_.size() && episodes_[episode_cursor_].start <= a) {
    o.active = &episodes_[episode_cursor_];
    Phase ph;
    bool late;
    const double si = o.active->intensity(a, &ph, &late);
    o.s[static_cast<int>(o.active->family)] = si;
    o.status = worse_status(o.status, phase_status(ph, late, si, o.active->kind == EpisodeKind::critical));
  }
  if (!own_events_.empty()) {
    Phase ph;
    bool late;
    const double c = cascade_c(own_events_, a, &ph, &late);
    if (ph != Phase::none) {
      const unsigned fams = cascade_source_families(spec_.profile);
      for (int f = 0; f < kNumFamilies; ++f)
        if (fams & (1u << f)) o.s[f] = std::max(o.s[f], 2.0 * c);
      o.status = worse_status(o.status, phase_status(ph, late, 2.0 * c, true));
    }
  }
  // Dependant effects: multipliers and additives per target.
  double max_ck = 0;
  for (size_t e = 0; e < kCascadeEdges.size(); ++e) {
    if (upstream_[e].server < 0) continue;
    double c = upstream_[e].events.empty() ? 0.0 : cascade_c(upstream_[e].events, a, nullptr, nullptr);
    if (ext) c = std::max(c, ext->edge_c[e]);
    if (c <= 0) continue;
    const auto& edge = kCascadeEdges[e];
    for (int i = 0; i < edge.num_effects; ++i) {
      const double ck = c * edge.effects[i].strength;
      max_ck = std::max(max_ck, ck);
      const auto& fx = effect_spec(edge.effects[i].effect);
      auto mul = [ck](double m) { return 1.0 + (m - 1.0) * ck; };
      o.m_user *= mul(fx.user);
      o.m_sys *= mul(fx.sys);
      o.m_share *= mul(fx.share);
      o.m_mem *= mul(fx.mem);
      o.m_in *= mul(fx.net_in);
      o.m_out *= mul(fx.net_out);
      o.m_back *= mul(fx.back_mul);
      o.m_front *= mul(fx.front_mul);
      o.m_load *= mul(fx.load);
      o.a_back += fx.back_add * ck;
      o.a_front += fx.front_add * ck;
    }
  }
  if (max_ck >= 0.5) o.status = worse_status(o.status, Status::heavy_load);
  if (ext) {
    for (int f = 0; f < kNumFamilies; ++f) o.s[f] = std::max(o.s[f], ext->s[f]);
    if (ext->status) o.status = worse_status(o.status, *ext->status);
  }
  return o;
}

// Targets μ and noise scales σ (§5): base × state factor × F (half strength where noted).
// Overlays move the family's driven value; iowait and memory first so a cpu overlay drives the
// busy total they are part of.
ServerSim::Targets ServerSim::targets(const StepClock& clock, const Overlays& o) const {
  const auto& b = profile_base(spec_.profile);
  const auto& sf = state_factors(markov_);
  const double F = clock.F[idx(spec_.profile)];
  const double Fh = 1.0 + (F - 1.0) / 2.0;
  Targets t;
  t.F = F;
  t.mu_user = b.user.mean * sf.user * F * o.m_user;
  t.sd_user = b.user.sd * sf.user * F;
  t.mu_sys = b.sys.mean * sf.sys * F * o.m_sys;
  t.sd_sys = b.sys.sd * sf.sys * F;
  t.mu_io = b.iowait.mean * sf.iowait * Fh;
  t.sd_io = b.iowait.sd * sf.iowait * Fh;
  t.mu_mem = b.mem.mean * sf.mem * Fh * o.m_mem;
  t.sd_mem = b.mem.sd * sf.mem * Fh;
  const Profile p = spec_.profile;
  if (o.s[static_cast<int>(Family::iowait)] > 0)
    t.mu_io = drive(o.s[static_cast<int>(Family::iowait)], t.mu_io, family_targets(Family::iowait, p));
  if (o.s[static_cast<int>(Family::memory)] > 0)
    t.mu_mem = drive(o.s[static_cast<int>(Family::memory)], t.mu_mem, family_targets(Family::memory, p));
  if (o.s[static_cast<int>(Family::cpu)] > 0) {
    const double busy0 = t.mu_user + t.mu_sys + t.mu_io;
    const double busy = drive(o.s[static_cast<int>(Family::cpu)], busy0, family_targets(Family::cpu, p));
    t.mu_user = std::max(0.0, t.mu_user + busy - busy0);
  }
  return t;
}

// Steps 2–10: every metric from its target, the noise-free shadow, the output record.
void ServerSim::emit(int64_t a, const Overlays& o, const Targets& t, const std::array<double, kNumQ>& z, SimRecord& out) {
  const auto& b = profile_base(spec_.profile);
  const auto& sf = state_factors(markov_);
  const Profile p = spec_.profile;
  // 2. CPU: smooth, round to hundredths, make the four parts sum to exactly 100.00.
  int64_t U = std::llround(smooth(kUser, t.mu_user, t.sd_user, z[kUser], phi_) * 100.0);
  int64_t S = std::llround(smooth(kSys, t.mu_sys, t.sd_sys, z[kSys], phi_) * 100.0);
  int64_t I = std::llround(smooth(kIowait, t.mu_io, t.sd_io, z[kIowait], phi_) * 100.0);
  const int64_t idle = cpu_idle_after_fit(U, S, I);
  const double busy = (10000 - idle) / 100.0;

  // 3. Java: a smoothed share of user + sys, so java ≤ user + sys by construction.
  const double share_mu = std::min(0.98, b.java_share * sf.share * o.m_share);
  const double share = std::clamp(smooth(kShare, share_mu, 0.04 * sf.share, z[kShare], phi_), 0.0, 0.98);
  const int64_t java = std::llround(share * static_cast<double>(U + S));

  // 4–5. Memory, then swap, which rises only under memory pressure and drains slowly.
  const double mem = std::clamp(smooth(kMem, t.mu_mem, t.sd_mem, z[kMem], phi_), 0.0, 100.0);
  const double swap_mu = b.swap.mean + 4.0 * std::max(0.0, mem - 85.0);
  const double swap_phi = (!started_ || swap_mu >= y_[kSwap]) ? phi_ : phi_fall_;
  const double swap = smooth(kSwap, swap_mu, b.swap.sd, z[kSwap], swap_phi);

  // 6. Disk: AR(1) of the level (an overlay drives the level's target).
  double disk_mu = disk_level_;
  if (o.s[static_cast<int>(Family::disk)] > 0)
    disk_mu = drive(o.s[static_cast<int>(Family::disk)], disk_mu, family_targets(Family::disk, p));
  const double disk = smooth(kDisk, disk_mu, 0.4, z[kDisk], phi_);

  // 7. Network and close-wait.
  const double F = t.F;
  const double net_in = smooth(kNetIn, b.net_in.mean * sf.net_in * F * o.m_in, b.net_in.sd * sf.net_in * F, z[kNetIn], phi_);
  const double net_out =
      smooth(kNetOut, b.net_out.mean * sf.net_out * F * o.m_out, b.net_out.sd * sf.net_out * F, z[kNetOut], phi_);
  const double back = smooth(kBack, b.back.mean * sf.close_wait * o.m_back + o.a_back, b.back.sd * sf.close_wait,
                             z[kBack], phi_);
  const double front = smooth(kFront, b.front.mean * sf.close_wait * o.m_front + o.a_front,
                              b.front.sd * sf.close_wait, z[kFront], phi_);

  // 8. Load follows busy CPU, superlinear above 90 %.
  const double busy_ref = 100.0 - b.idle_ref;
  const double load_mu = b.load.mean * busy / busy_ref * (1.0 + std::max(0.0, busy - 90.0) / 10.0) * o.m_load;
  const double load = smooth(kLoad, load_mu, b.load.sd, z[kLoad], phi_);

  // 9. Uptime counts online steps.
  uptime_ = std::min(3650.0, uptime_ + step_days_);
  started_ = true;

  // threshold_cross follows the noise-free version of each scored signal: the same AR(1) of the
  // targets without the noise term, so the emitted series crosses near it (its lag is included).
  const std::array<double, kNumFamilies> shadow_targets = {t.mu_user + t.mu_sys + t.mu_io, t.mu_mem, t.mu_io, disk_mu};
  for (int f = 0; f < kNumFamilies; ++f)
    noise_free_[f] = shadow_started_ ? phi_ * noise_free_[f] + (1.0 - phi_) * shadow_targets[f] : shadow_targets[f];
  shadow_started_ = true;
  if (o.active && o.active->threshold_cross < 0 &&
      noise_free_[static_cast<int>(o.active->family)] >= family_targets(o.active->family, p).threshold)
    o.active->threshold_cross = a;

  // 10. Output in fixed point, clamped to the contract's ranges.
  out.online = true;
  out.status = o.status;
  auto& v = out.v;
  v[0] = static_cast<int32_t>(U);
  v[1] = static_cast<int32_t>(S);
  v[2] = static_cast<int32_t>(I);
  v[3] = static_cast<int32_t>(idle);
  v[4] = static_cast<int32_t>(java);
  v[5] = hundredths(mem, 0, 100);
  v[6] = hundredths(swap, 0, 100);
  v[7] = hundredths(disk, 0, 100);
  v[8] = hundredths(net_in, 0, 1e7);
  v[9] = hundredths(net_out, 0, 1e7);
  v[10] = static_cast<int32_t>(std::llround(std::clamp(back, 0.0, 1e9)));
  v[11] = static_cast<int32_t>(std::llround(std::clamp(front, 0.0, 1e9)));
  v[12] = hundredths(load, 0, 1e7);
  out.uptime_e4 = std::llround(uptime_ * 10000.0);
}

void ServerSim::incident_rows(int64_t last, std::vector<IncidentRow>& out) const {
  const int64_t first = start_abs_;
  auto at = [&](int64_t abs_step) { return abs_step * step_ms_; };
  auto opt_at = [&](int64_t abs_step) -> std::optional<EpochMs> {
    if (abs_step < 0 || abs_step > last) return std::nullopt;
    return at(abs_step);
  };
  const Profile p = spec_.profile;
  for (const Episode& e : episodes_) {
    if (e.start < first || e.start > last) continue;
    IncidentRow r;
    const bool crit = e.kind == EpisodeKind::critical;
    r.id = incident_id(crit ? 'C' : 'D', spec_.name, at(e.start));
    r.server_name = spec_.name;
    r.profile = p;
    r.kind = crit ? "critical" : "degrading";
    r.metric = std::string(family_name(e.family));
    r.start = at(e.start);
    r.threshold_cross = opt_at(e.threshold_cross);
    if (!e.escalated || e.peak_step() <= e.end) r.peak = opt_at(e.peak_step());
    r.end = opt_at(e.end);
    const auto t = family_targets(e.family, p);
    r.peak_target = crit ? t.critical_peak : t.degrading_peak;
    if (e.parent_start >= 0) r.parent_id = incident_id('D', spec_.name, at(e.parent_start));
    out.push_back(std::move(r));
  }
  for (const Spell& sp : spells_) {
    if (sp.start < first || sp.start > last) continue;
    IncidentRow r;
    r.id = incident_id('S', spec_.name, at(sp.start));
    r.server_name = spec_.name;
    r.profile = p;
    r.kind = "state_critical";
    r.start = at(sp.start);
    if (sp.end >= 0) r.end = opt_at(sp.end);
    out.push_back(std::move(r));
  }
  static constexpr std::string_view kSourceMetric[] = {"cpu", "iowait", "iowait"};
  for (const CascadeEvent& e : own_events_) {
    if (e.start < first || e.start > last) continue;
    IncidentRow r;
    r.id = incident_id('X', spec_.name, at(e.start));
    r.server_name = spec_.name;
    r.profile = p;
    r.kind = "cascade_source";
    r.metric = std::string(p == Profile::conductor_mgmt ? kSourceMetric[0] : kSourceMetric[1]);
    r.start = at(e.start);
    r.peak = opt_at(e.peak_step());
    r.end = opt_at(e.end());
    out.push_back(std::move(r));
  }
  for (size_t k = 0; k < kCascadeEdges.size(); ++k) {
    const auto& up = upstream_[k];
    if (up.server < 0) continue;
    const auto& edge = kCascadeEdges[k];
    std::string effect;
    for (int i = 0; i < edge.num_effects; ++i) {
      if (i) effect += '+';
      effect += kEffectNames[static_cast<int>(edge.effects[i].effect)];
    }
    const std::string& src = fleet_[up.server].name;
    for (const CascadeEvent& e : up.events) {
      if (e.start < first || e.start > last) continue;
      IncidentRow r;
      r.id = incident_id('X', src, at(e.start)) + ">" + spec_.name;
      r.server_name = spec_.name;
      r.profile = p;
      r.kind = "cascade_dependent";
      r.effect = effect;
      r.start = at(e.start);
      r.peak = opt_at(e.peak_step());
      r.end = opt_at(e.end());
      r.parent_id = incident_id('X', src, at(e.start));
      out.push_back(std::move(r));
    }
  }
}

}  // namespace nordiq::sim
