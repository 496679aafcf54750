#include "replay/alert_score.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "forecast/order_stats.hpp"

namespace nordiq::replay {

namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kBeforeEpisode = 120 * kMinute;
constexpr int64_t kReopenWindow = 30 * kMinute;
constexpr int64_t kEarlyEnough = 30 * kMinute;

using risk::Signal;

// The signal whose episodes explain an alert on `s`.
Signal episode_signal(Signal s) {
  if (s == Signal::swap) return Signal::memory;
  if (s == Signal::load) return Signal::cpu;
  return s;
}

struct Window {
  EpochMs from, to;
  std::optional<Signal> signal;  // nullopt: covers every signal
};

}  // namespace

IncidentKind incident_kind(const Incident& inc) {
  if (inc.kind != "critical") return IncidentKind::degrading;
  return inc.parent.empty() ? IncidentKind::critical : IncidentKind::escalation;
}

double AlertScore::lead_quantile(double q) const {
  return lead_minutes.empty() ? 0 : forecast::sorted_quantile(lead_minutes.data(), lead_minutes.size(), q);
}

AlertScore score_alerts(std::span<const AlertInterval> alerts, std::span<const Incident> incidents,
                        const ScoredSpan& span) {
  AlertScore r;
  std::unordered_map<std::string, uint32_t> index;
  for (uint32_t i = 0; i < span.servers.size(); ++i) index[span.servers[i]] = i;
  const size_t n = span.servers.size();
  // Episode windows per server.
  std::vector<std::vector<Window>> windows(n);
  for (const Incident& inc : incidents) {
    auto it = index.find(inc.server);
    if (it == index.end()) continue;
    windows[it->second].push_back({inc.start - kBeforeEpisode, inc.end ? inc.end : span.end, inc.signal});
  }
  auto covered = [&](uint32_t server, Signal s, EpochMs t) {
    for (const Window& w : windows[server])
      if (t >= w.from && t <= w.to && (!w.signal || *w.signal == episode_signal(s))) return true;
    return false;
  };

  // Incidents to warn of.
  for (const Incident& inc : incidents) {
    if (!inc.scored() || inc.threshold_cross < span.begin || inc.threshold_cross >= span.end) continue;
    auto it = index.find(inc.server);
    if (it == index.end()) continue;
    ++r.incidents;
    KindScore& kind = r.by_kind[static_cast<int>(incident_kind(inc))];
    ++kind.incidents;
    r.outcomes.push_back({&inc, std::nullopt});
    const EpochMs from = inc.start - kBeforeEpisode;
    EpochMs earliest = 0;
    for (const AlertInterval& a : alerts) {
      if (a.server != it->second || a.signal != *inc.signal) continue;
      if (a.opened >= inc.threshold_cross || a.resolved <= from) continue;  // not open in [from, cross)
      const EpochMs since = std::max(a.opened, from);
      if (earliest == 0 || since < earliest) earliest = since;
    }
    if (earliest == 0) continue;
    ++r.warned;
    const double lead = static_cast<double>(inc.threshold_cross - earliest) / kMinute;
    const bool early = inc.threshold_cross - earliest >= kEarlyEnough;
    r.warned_30m += early;
    ++kind.warned;
    kind.warned_30m += early;
    r.outcomes.back().lead_minutes = lead;
    r.lead_minutes.push_back(lead);
  }
  std::sort(r.lead_minutes.begin(), r.lead_minutes.end());

  // Openings: false alarms and re-opens (alerts ordered by key, then time).
  std::vector<const AlertInterval*> sorted;
  for (const AlertInterval& a : alerts) sorted.push_back(&a);
  std::sort(sorted.begin(), sorted.end(), [](const AlertInterval* x, const AlertInterval* y) {
    if (x->server != y->server) return x->server < y->server;
    if (x->signal != y->signal) return x->signal < y->signal;
    return x->opened < y->opened;
  });
  for (size_t i = 0; i < sorted.size(); ++i) {
    const AlertInterval& a = *sorted[i];
    if (a.opened < span.begin || a.opened >= span.end) continue;
    ++r.openings;
    if (!covered(a.server, a.signal, a.opened)) {
      ++r.false_alarms;
      r.false_alarm_alerts.push_back(a);
    }
    if (i > 0 && sorted[i - 1]->server == a.server && sorted[i - 1]->signal == a.signal &&
        a.opened - sorted[i - 1]->resolved <= kReopenWindow)
      ++r.reopened_30m;
  }

  // Open time, on the step grid.
  const int64_t steps = std::max<int64_t>(0, (span.end - span.begin) / span.step_ms);
  int64_t open_steps = 0, outside_steps = 0, open_outside_steps = 0;
  std::vector<uint8_t> open(static_cast<size_t>(steps));
  for (uint32_t s = 0; s < n; ++s) {
    std::fill(open.begin(), open.end(), 0);
    for (const AlertInterval& a : alerts) {
      if (a.server != s) continue;
      const int64_t lo = std::max<int64_t>(0, (a.opened - span.begin) / span.step_ms);
      const int64_t hi = std::min<int64_t>(steps, (a.resolved - span.begin + span.step_ms - 1) / span.step_ms);
      for (int64_t i = lo; i < hi; ++i) open[i] = 1;
    }
    for (int64_t i = 0; i < steps; ++i) {
      const EpochMs t = span.begin + i * span.step_ms;
      bool in_episode = false;
      for (const Window& w : windows[s]) in_episode |= t >= w.from && t <= w.to;
      open_steps += open[i];
      outside_steps += !in_episode;
      open_outside_steps += open[i] && !in_episode;
    }
  }
  r.server_days = static_cast<double>(n) * static_cast<double>(span.end - span.begin) / 86'400'000.0;
  r.open_share = n * steps > 0 ? static_cast<double>(open_steps) / static_cast<double>(n * steps) : 0;
  r.open_share_outside = outside_steps > 0 ? static_cast<double>(open_outside_steps) / outside_steps : 0;
  return r;
}

std::string alert_score_table(std::span<const NamedScore> scores) {
  std::string out = fmt::format("{:<46}", "");
  for (const NamedScore& s : scores) out += fmt::format("{:>22}", s.name);
  out += '\n';
  auto row = [&](const char* label, auto value) {
    out += fmt::format("{:<46}", label);
    for (const NamedScore& s : scores) out += fmt::format("{:>22}", value(s.score));
    out += '\n';
  };
  auto pct = [](double v) { return fmt::format("{:.1f} %", 100 * v); };
  row("incidents to warn of (degrading/critical)", [](const AlertScore& a) { return fmt::format("{}", a.incidents); });
  row("warned before the crossing", [&](const AlertScore& a) { return pct(a.warned_share()); });
  row("warned >= 30 min before the crossing", [&](const AlertScore& a) { return pct(a.warned_30m_share()); });
  for (int k = 0; k < kNumIncidentKinds; ++k) {
    const std::string label = fmt::format("  {}: warned / >= 30 min before", kIncidentKindNames[k]);
    row(label.c_str(), [k](const AlertScore& a) {
      const KindScore& s = a.by_kind[k];
      return fmt::format("{}/{} of {}", s.warned, s.warned_30m, s.incidents);
    });
  }
  row("lead time p25 / p50 / p75 (min)", [](const AlertScore& a) {
    return fmt::format("{:.0f} / {:.0f} / {:.0f}", a.lead_quantile(0.25), a.lead_quantile(0.5), a.lead_quantile(0.75));
  });
  row("alerts opened", [](const AlertScore& a) { return fmt::format("{}", a.openings); });
  row("false alarms per server-day", [](const AlertScore& a) { return fmt::format("{:.2f}", a.false_alarms_per_server_day()); });
  row("  by signal: cpu/mem/iowait/swap/load/disk", [](const AlertScore& a) {
    const auto f = a.false_by_signal();
    return fmt::format("{}/{}/{}/{}/{}/{}", f[0], f[1], f[2], f[3], f[4], f[5]);
  });
  row("precision", [&](const AlertScore& a) { return pct(a.precision()); });
  row("re-opened within 30 min", [&](const AlertScore& a) { return pct(a.reopened_share()); });
  row("server-time with an alert open", [&](const AlertScore& a) { return pct(a.open_share); });
  row("... outside incidents", [&](const AlertScore& a) { return pct(a.open_share_outside); });
  return out;
}

std::string incident_outcomes_csv(std::span<const NamedScore> scores) {
  std::string out = "system,incident_id,server_name,kind,metric,start,threshold_cross,lead_minutes\n";
  for (const NamedScore& s : scores)
    for (const IncidentOutcome& o : s.score.outcomes) {
      const Incident& inc = *o.incident;
      out += fmt::format("{},{},{},{},{},{},{},{}\n", s.name, inc.id, inc.server, kIncidentKindNames[static_cast<int>(incident_kind(inc))],
                         inc.metric, format_iso8601(inc.start), format_iso8601(inc.threshold_cross),
                         o.lead_minutes ? fmt::format("{:.0f}", *o.lead_minutes) : std::string());
    }
  return out;
}

std::string false_alarms_csv(std::span<const NamedScore> scores, std::span<const std::string> servers) {
  std::string out = "system,server_name,signal,opened,resolved,open_minutes,basis\n";
  for (const NamedScore& s : scores)
    for (const AlertInterval& a : s.score.false_alarm_alerts)
      out += fmt::format("{},{},{},{},{},{},{}\n", s.name, servers[a.server], risk::kSignalNames[static_cast<int>(a.signal)],
                         format_iso8601(a.opened), format_iso8601(a.resolved), (a.resolved - a.opened) / kMinute,
                         a.likely ? "likely" : "possible");
  return out;
}

nlohmann::ordered_json alert_score_json(std::span<const NamedScore> scores) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const NamedScore& s : scores) {
    const AlertScore& a = s.score;
    out[s.name] = {{"incidents", a.incidents},
                   {"warned_share", a.warned_share()},
                   {"warned_30m_share", a.warned_30m_share()},
                   {"by_kind", [&] {
                      nlohmann::ordered_json j = nlohmann::ordered_json::object();
                      for (int k = 0; k < kNumIncidentKinds; ++k) {
                        const KindScore& ks = a.by_kind[k];
                        j[kIncidentKindNames[k]] = {{"incidents", ks.incidents}, {"warned", ks.warned}, {"warned_30m", ks.warned_30m}};
                      }
                      return j;
                    }()},
                   {"lead_minutes", {{"p25", a.lead_quantile(0.25)}, {"p50", a.lead_quantile(0.5)}, {"p75", a.lead_quantile(0.75)}}},
                   {"openings", a.openings},
                   {"false_alarms", a.false_alarms},
                   {"false_alarms_per_server_day", a.false_alarms_per_server_day()},
                   {"false_alarms_by_signal", [&] {
                      nlohmann::ordered_json j = nlohmann::ordered_json::object();
                      const auto by = a.false_by_signal();
                      for (int k = 0; k < risk::kNumSignals; ++k) j[std::string(risk::kSignalNames[k])] = by[k];
                      return j;
                    }()},
                   {"precision", a.precision()},
                   {"reopened_30m_share", a.reopened_share()},
                   {"open_share", a.open_share},
                   {"open_share_outside_incidents", a.open_share_outside},
                   {"server_days", a.server_days}};
  }
  return out;
}

}  // namespace nordiq::replay
