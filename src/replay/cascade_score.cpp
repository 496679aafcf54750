#include "replay/cascade_score.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "forecast/order_stats.hpp"

namespace nordiq::replay {

namespace {

constexpr int64_t kMatchAfterEndMs = 45 * 60'000LL;

bool names_any(const DetectedCascade& d, const CascadeTruth& t) {
  auto involved = [&](const std::string& server) {
    return server == t.source || std::find(t.dependents.begin(), t.dependents.end(), server) != t.dependents.end();
  };
  if (involved(d.source)) return true;
  return std::any_of(d.dependents.begin(), d.dependents.end(), involved);
}

bool matches(const DetectedCascade& d, const CascadeTruth& t) {
  return d.detected_at >= t.start && d.detected_at <= t.end + kMatchAfterEndMs && names_any(d, t);
}

}  // namespace

std::vector<CascadeTruth> cascade_truth(std::span<const Incident> incidents, EpochMs span_end) {
  std::map<std::string, CascadeTruth> by_id;
  for (const Incident& i : incidents)
    if (i.kind == "cascade_source") by_id[i.id] = {i.id, i.server, {}, i.start, i.end > 0 ? i.end : span_end};
  for (const Incident& i : incidents) {
    if (i.kind != "cascade_dependent") continue;
    auto it = by_id.find(i.parent);
    if (it != by_id.end()) it->second.dependents.push_back(i.server);
  }
  std::vector<CascadeTruth> out;
  for (auto& [id, t] : by_id) out.push_back(std::move(t));
  std::sort(out.begin(), out.end(), [](const CascadeTruth& a, const CascadeTruth& b) {
    return a.start != b.start ? a.start < b.start : a.source < b.source;
  });
  return out;
}

double CascadeScore::delay_quantile(double q) const {
  return delay_minutes.empty() ? 0 : forecast::sorted_quantile(delay_minutes.data(), delay_minutes.size(), q);
}

CascadeScore score_cascades(std::span<const DetectedCascade> detections, std::span<const CascadeTruth> truth,
                            const ScoredSpan& span, int64_t warmup_ms) {
  CascadeScore s;
  s.days = static_cast<double>(span.end - span.begin) / 86'400'000.0;
  s.warmup_hours = static_cast<double>(warmup_ms) / 3'600'000.0;
  for (const CascadeTruth& t : truth) {
    if (t.start < span.begin + warmup_ms || t.start >= span.end) continue;
    ++s.events;
    const DetectedCascade* first = nullptr;
    for (const DetectedCascade& d : detections)
      if (matches(d, t) && (first == nullptr || d.detected_at < first->detected_at)) first = &d;
    s.per_event.push_back({t.id, t.source, t.start, first ? first->detected_at : 0, first ? first->source : ""});
    if (first == nullptr) continue;
    ++s.detected;
    s.source_found += first->source == t.source;
    s.delay_minutes.push_back(static_cast<double>(first->detected_at - t.start) / 60'000.0);
  }
  std::sort(s.delay_minutes.begin(), s.delay_minutes.end());
  for (const DetectedCascade& d : detections) {
    ++s.detections;
    const bool any = std::any_of(truth.begin(), truth.end(), [&](const CascadeTruth& t) { return matches(d, t); });
    s.false_cascades += !any;
  }
  return s;
}

std::string cascade_score_table(const CascadeScore& s) {
  std::string out = fmt::format("cascades (events starting after the first {:.0f} h)\n", s.warmup_hours);
  out += fmt::format("  {:<44}{}\n", "ground-truth events", s.events);
  out += fmt::format("  {:<44}{} ({:.1f} %)\n", "detected", s.detected, 100 * s.detected_share());
  out += fmt::format("  {:<44}{:.0f} / {:.0f} / {:.0f}\n", "detection delay p10 / p50 / p90 (min)", s.delay_quantile(0.1),
                     s.delay_quantile(0.5), s.delay_quantile(0.9));
  out += fmt::format("  {:<44}{} of {} ({:.1f} %)\n", "suspected source correct", s.source_found, s.detected,
                     100 * s.source_accuracy());
  out += fmt::format("  {:<44}{}\n", "cascades opened", s.detections);
  out += fmt::format("  {:<44}{} ({:.2f} per day)\n", "false cascades (no matching event)", s.false_cascades,
                     s.false_per_day());
  return out;
}

nlohmann::ordered_json cascade_score_json(const CascadeScore& s) {
  nlohmann::ordered_json j;
  j["events"] = s.events;
  j["detected"] = s.detected;
  j["detected_share"] = s.detected_share();
  j["delay_minutes"] = {{"p10", s.delay_quantile(0.1)}, {"p50", s.delay_quantile(0.5)}, {"p90", s.delay_quantile(0.9)}};
  j["source_found"] = s.source_found;
  j["source_accuracy"] = s.source_accuracy();
  j["opened"] = s.detections;
  j["false_cascades"] = s.false_cascades;
  j["false_per_day"] = s.false_per_day();
  j["warmup_hours"] = s.warmup_hours;
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  for (const ScoredCascadeEvent& e : s.per_event) {
    nlohmann::ordered_json row;
    row["id"] = e.id;
    row["source"] = e.source;
    row["start"] = format_iso8601(e.start);
    row["detected_at"] = e.detected_at ? nlohmann::ordered_json(format_iso8601(e.detected_at)) : nlohmann::ordered_json();
    row["suspected_source"] = e.detected_at ? nlohmann::ordered_json(e.suspected_source) : nlohmann::ordered_json();
    events.push_back(std::move(row));
  }
  j["per_event"] = std::move(events);
  return j;
}

}  // namespace nordiq::replay
