#include "sim/scenario.hpp"

#include <algorithm>
#include <fmt/core.h>
#include <set>

namespace nordiq::sim {

using nlohmann::json;

namespace {
constexpr std::array<std::string_view, 4> kScenarioNames = {"healthy", "degrading", "critical", "cascade"};
constexpr std::array<int, 4> kDefaultRamp = {12, 24, 6, 6};
}  // namespace

std::optional<Scenario> scenario_from_name(std::string_view name) {
  for (size_t i = 0; i < kScenarioNames.size(); ++i)
    if (kScenarioNames[i] == name) return static_cast<Scenario>(i);
  return std::nullopt;
}
std::string_view scenario_name(Scenario s) { return kScenarioNames[static_cast<int>(s)]; }

double ScenarioControl::Overlay::value(int64_t k) const {
  if (role == Role::none) return 0;
  const int64_t j = k - effective + 1;  // the effective step already moves one ramp step
  if (j <= 0) return v0;
  const double frac = std::min(1.0, static_cast<double>(j) / ramp);
  return v0 + (target - v0) * frac;
}

ScenarioControl::ScenarioControl(const FleetEngine& engine)
    : engine_(engine),
      control_rng_(Rng::substream(engine.config().seed, StreamId::control)),
      overlays_(engine.size()) {}

ControlReply ScenarioControl::error(int status, std::string code, std::string message) {
  return {status, json{{"error", std::move(code)}, {"message", std::move(message)}}};
}

json ScenarioControl::names(const std::vector<int>& servers) const {
  json a = json::array();
  for (int i : servers) a.push_back(engine_.fleet()[i].name);
  return a;
}

std::vector<int> ScenarioControl::pick_random(const std::vector<int>& candidates, size_t count) {
  std::vector<int> pool = candidates;
  count = std::min(count, pool.size());
  for (size_t i = 0; i < count; ++i) {
    const size_t j = i + static_cast<size_t>(control_rng_.below(pool.size() - i));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(count);
  std::sort(pool.begin(), pool.end());
  return pool;
}

void ScenarioControl::set_initial(Scenario s) {
  if (s == Scenario::healthy) return;
  std::lock_guard lock(mutex_);
  apply(s, {}, false, kDefaultRamp[static_cast<int>(s)]);
}

ControlReply ScenarioControl::set(const json& body) {
  if (!body.is_object()) return error(400, "bad_json", "the body must be a JSON object");
  for (const auto& [key, value] : body.items())
    if (key != "scenario" && key != "servers" && key != "ramp_steps")
      return error(422, "unknown_field", fmt::format("unknown field \"{}\"; allowed: scenario, servers, ramp_steps", key));
  if (!body.contains("scenario")) return error(422, "missing_field", "\"scenario\" is required");
  const json& sj = body["scenario"];
  const std::string sname = sj.is_string() ? sj.get<std::string>() : sj.dump();
  const auto sc = sj.is_string() ? scenario_from_name(sname) : std::nullopt;
  if (!sc)
    return error(422, "unknown_scenario",
                 fmt::format("scenario must be one of healthy, degrading, critical, cascade; got {}", json(sname).dump()));
  const auto& fleet = engine_.fleet();
  std::vector<int> servers;
  const bool given = body.contains("servers");
  if (given) {
    const json& a = body["servers"];
    if (!a.is_array() || a.empty()) return error(422, "invalid_servers", "servers must be a non-empty array of names");
    std::set<std::string> seen;
    std::vector<std::string> unknown;
    for (const auto& v : a) {
      if (!v.is_string()) return error(422, "invalid_servers", "servers must contain only strings");
      const std::string n = v.get<std::string>();
      if (!seen.insert(n).second) return error(422, "invalid_servers", fmt::format("server \"{}\" is listed twice", n));
      const auto i = fleet.find(n);
      if (!i)
        unknown.push_back(n);
      else
        servers.push_back(*i);
    }
    if (!unknown.empty()) {
      std::string list;
      for (size_t i = 0; i < unknown.size() && i < 10; ++i) list += (i ? ", " : "") + unknown[i];
      if (unknown.size() > 10) list += fmt::format(" (and {} more)", unknown.size() - 10);
      return error(422, "unknown_server", fmt::format("not in the fleet: {}", list));
    }
    if (*sc == Scenario::cascade)
      for (int i : servers)
        if (!is_cascade_upstream(fleet[i].profile))
          return error(422, "invalid_cascade_source",
                       fmt::format("{} is {}; a cascade source must be database, conductor_mgmt or data_ingest",
                                   fleet[i].name, profile_id(fleet[i].profile)));
    std::sort(servers.begin(), servers.end());
  }
  int ramp = kDefaultRamp[static_cast<int>(*sc)];
  if (body.contains("ramp_steps")) {
    const json& r = body["ramp_steps"];
    if (!r.is_number_integer() || r.get<int64_t>() < 1 || r.get<int64_t>() > 2016)
      return error(422, "invalid_ramp_steps", fmt::format("ramp_steps must be an integer in 1–2016, got {}", r.dump()));
    ramp = static_cast<int>(r.get<int64_t>());
  }
  std::lock_guard lock(mutex_);
  return apply(*sc, std::move(servers), given, ramp);
}

void ScenarioControl::close_row(size_t server, EpochMs end) {
  const int row = overlays_[server].row;
  if (row < 0) return;
  rows_[row].end = end;
  const std::string parent = rows_[row].id;
  for (auto& r : rows_)
    if (!r.end && r.parent_id == parent) r.end = end;
  overlays_[server].row = -1;
}

ControlReply ScenarioControl::apply(Scenario sc, std::vector<int> servers, bool given, int ramp) {
  const auto& fleet = engine_.fleet();
  const int64_t E = next_step_;  // takes effect at the next step whose overlays are not yet out
  const EpochMs tE = engine_.time_of(E);
  const Scenario previous = scenario_;
  std::string mode;
  std::vector<int> all(fleet.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  const size_t n = fleet.size();

  auto is_c = [](Role r) { return r == Role::cascade_source || r == Role::ramp_down_c; };
  auto ramp_down = [&](size_t i) {
    Overlay& o = overlays_[i];
    if (o.role == Role::none) return;
    const double cur = o.value(E - 1);
    const bool c = is_c(o.role);
    o = Overlay{c ? Role::ramp_down_c : Role::ramp_down_s, cur, 0.0, E, ramp, o.row};
  };

  if (sc == Scenario::healthy) {
    mode = "ramp_down";
    if (!given) {
      servers.clear();
      for (size_t i = 0; i < n; ++i)
        if (overlays_[i].role != Role::none) servers.push_back(static_cast<int>(i));
    }
    for (int i : servers) ramp_down(i);
  } else {
    if (!given) {
      if (sc == Scenario::degrading) {
        servers = pick_random(all, std::max<size_t>(1, n / 5));
      } else if (sc == Scenario::critical) {
        servers = previous == Scenario::degrading ? affected_ : pick_random(all, std::max<size_t>(1, n / 4));
      } else {
        std::vector<int> dbs;
        for (int i : all)
          if (fleet[i].profile == Profile::database) dbs.push_back(i);
        if (dbs.empty())
          return error(422, "invalid_cascade_source", "the fleet has no database server to use as a cascade source");
        servers = pick_random(dbs, 2);
      }
    }
    mode = sc == Scenario::degrading  ? "fresh"
           : sc == Scenario::critical ? (previous == Scenario::degrading ? "escalate" : "fresh")
                                      : "cascade";
    std::vector<char> in_set(n, 0);
    for (int i : servers) in_set[i] = 1;
    for (size_t i = 0; i < n; ++i)
      if (!in_set[i]) ramp_down(i);
    const Role role = sc == Scenario::degrading ? Role::degrading
                      : sc == Scenario::critical ? Role::critical
                                                 : Role::cascade_source;
    for (int i : servers) {
      Overlay& o = overlays_[i];
      double cur = o.value(E - 1);
      if (is_c(o.role) && !is_c(role)) cur *= 2.0;       // a source shows s = 2c
      if (!is_c(o.role) && is_c(role)) cur /= 2.0;
      if (o.role == Role::none) cur = 0;
      close_row(i, tE);
      o = Overlay{role, cur, role == Role::critical ? 2.0 : 1.0, E, ramp, -1};
      o.row = add_incident_rows(i, sc, role, E, ramp);
    }
  }
  scenario_ = sc;
  mode_ = mode;
  since_step_ = E;
  ramp_steps_ = ramp;
  affected_ = servers;
  cascade_sources_ = sc == Scenario::cascade ? servers : std::vector<int>{};
  const size_t dependants = bound_dependants();
  return {200, json{{"status", "ok"},
                    {"previous", scenario_name(previous)},
                    {"scenario", scenario_name(sc)},
                    {"mode", mode},
                    {"affected_servers", names(servers)},
                    {"cascade_dependents", dependants},
                    {"ramp_steps", ramp},
                    {"effective_step", E},
                    {"effective_time", format_iso8601(tE)}}};
}

int ScenarioControl::add_incident_rows(int server, Scenario sc, Role role, int64_t E, int ramp) {
  const auto& fleet = engine_.fleet();
  const auto i = static_cast<size_t>(server);
  const EpochMs tE = engine_.time_of(E);
  IncidentRow r;
  r.id = incident_id('Z', fleet[i].name, tE) + "-" + std::to_string(rows_.size());
  r.server_name = fleet[i].name;
  r.profile = fleet[i].profile;
  r.kind = std::string(scenario_name(sc));
  r.start = tE;
  r.peak = engine_.time_of(E + ramp - 1);
  if (role == Role::cascade_source) {
    r.metric = fleet[i].profile == Profile::conductor_mgmt ? "cpu" : "iowait";
  } else {
    r.metric = "cpu";
    r.peak_target = role == Role::critical ? family_targets(Family::cpu, fleet[i].profile).critical_peak
                                           : family_targets(Family::cpu, fleet[i].profile).degrading_peak;
  }
  const int row = static_cast<int>(rows_.size());
  rows_.push_back(r);
  if (role != Role::cascade_source) return row;
  for (size_t d = 0; d < fleet.size(); ++d)
    for (size_t e = 0; e < kCascadeEdges.size(); ++e) {
      if (fleet[d].upstream[e] != server) continue;
      IncidentRow dr;
      dr.id = r.id + ">" + fleet[d].name;
      dr.server_name = fleet[d].name;
      dr.profile = fleet[d].profile;
      dr.kind = r.kind;
      for (int x = 0; x < kCascadeEdges[e].num_effects; ++x) {
        if (x) dr.effect += '+';
        dr.effect += kEffectNames[static_cast<int>(kCascadeEdges[e].effects[x].effect)];
      }
      dr.start = tE;
      dr.peak = r.peak;
      dr.parent_id = r.id;
      rows_.push_back(dr);
    }
  return row;
}

size_t ScenarioControl::bound_dependants() const {
  const auto& fleet = engine_.fleet();
  size_t dependants = 0;
  for (size_t d = 0; d < fleet.size() && !cascade_sources_.empty(); ++d)
    for (size_t e = 0; e < kCascadeEdges.size(); ++e)
      if (fleet[d].upstream[e] >= 0 &&
          std::binary_search(cascade_sources_.begin(), cascade_sources_.end(), fleet[d].upstream[e])) {
        ++dependants;
        break;
      }
  return dependants;
}

ControlReply ScenarioControl::status() const {
  std::lock_guard lock(mutex_);
  const auto& fleet = engine_.fleet();
  std::vector<int> dependants;
  for (size_t d = 0; d < fleet.size() && !cascade_sources_.empty(); ++d)
    for (size_t e = 0; e < kCascadeEdges.size(); ++e)
      if (fleet[d].upstream[e] >= 0 &&
          std::binary_search(cascade_sources_.begin(), cascade_sources_.end(), fleet[d].upstream[e])) {
        dependants.push_back(static_cast<int>(d));
        break;
      }
  const int64_t done = last_step_ - since_step_ + 1;
  const double progress = done <= 0 ? 0.0 : std::min(1.0, static_cast<double>(done) / ramp_steps_);
  const int64_t step = std::max<int64_t>(0, last_step_);
  return {200, json{{"scenario", scenario_name(scenario_)},
                    {"mode", mode_},
                    {"since_step", since_step_},
                    {"since", format_iso8601(engine_.time_of(since_step_))},
                    {"ramp_steps", ramp_steps_},
                    {"progress", progress},
                    {"affected_servers", names(affected_)},
                    {"cascade_sources", names(cascade_sources_)},
                    {"cascade_dependents", names(dependants)},
                    {"fleet_size", fleet.size()},
                    {"online", online_},
                    {"step", step},
                    {"sim_time", format_iso8601(engine_.time_of(step))}}};
}

void ScenarioControl::overlays(int64_t k, std::vector<ExternalOverlay>& out) {
  std::lock_guard lock(mutex_);
  next_step_ = k + 1;
  const auto& fleet = engine_.fleet();
  const size_t n = fleet.size();
  out.assign(n, ExternalOverlay{});
  bool any_c = false;
  for (size_t i = 0; i < n; ++i) {
    const Overlay& o = overlays_[i];
    if (o.role == Role::none) continue;
    const double v = o.value(k);
    const int64_t j = k - o.effective + 1;
    ExternalOverlay& x = out[i];
    switch (o.role) {
      case Role::degrading:
      case Role::critical:
      case Role::ramp_down_s: {
        x.s[static_cast<int>(Family::cpu)] = v;
        x.s[static_cast<int>(Family::memory)] = v;
        if (fleet[i].profile == Profile::database) x.s[static_cast<int>(Family::iowait)] = v;
        if (o.role == Role::degrading)
          x.status = v >= 0.5 ? Status::heavy_load : Status::healthy;
        else if (o.role == Role::critical)
          x.status = (j >= o.ramp || 2 * j >= o.ramp) ? Status::critical_issue : Status::heavy_load;
        else if (v > 0)
          x.status = Status::recovery;
        break;
      }
      case Role::cascade_source:
      case Role::ramp_down_c: {
        any_c = true;
        const unsigned fams = cascade_source_families(fleet[i].profile);
        for (int f = 0; f < kNumFamilies; ++f)
          if (fams & (1u << f)) x.s[f] = 2.0 * v;
        if (o.role == Role::cascade_source)
          x.status = 2 * j >= o.ramp ? Status::critical_issue : Status::heavy_load;
        else if (v > 0)
          x.status = Status::recovery;
        break;
      }
      case Role::none: break;
    }
  }
  if (any_c) {
    for (size_t d = 0; d < n; ++d)
      for (size_t e = 0; e < kCascadeEdges.size(); ++e) {
        const int u = fleet[d].upstream[e];
        if (u < 0) continue;
        const Overlay& o = overlays_[u];
        if (o.role == Role::cascade_source || o.role == Role::ramp_down_c) out[d].edge_c[e] = o.value(k);
      }
  }
}

void ScenarioControl::advance(int64_t k, size_t online) {
  std::lock_guard lock(mutex_);
  last_step_ = k;
  online_ = online;
  // A ramp-down that reached 0 is over: the overlay is removed and its ground truth closed.
  for (size_t i = 0; i < overlays_.size(); ++i) {
    Overlay& o = overlays_[i];
    if ((o.role == Role::ramp_down_s || o.role == Role::ramp_down_c) && k - o.effective + 1 >= o.ramp) {
      close_row(i, engine_.time_of(k));
      o = Overlay{};
    }
  }
}

void ScenarioControl::incident_rows(std::vector<IncidentRow>& out) const {
  std::lock_guard lock(mutex_);
  out.insert(out.end(), rows_.begin(), rows_.end());
}

double ScenarioControl::intensity(size_t server, int64_t k) const {
  std::lock_guard lock(mutex_);
  return overlays_[server].value(k);
}

}  // namespace nordiq::sim
