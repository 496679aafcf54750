// Scores detected cascades against the simulator's ground truth (issue #11): each
// `cascade_source` row of incidents.csv is an event, with its `cascade_dependent` rows (parent_id
// = the source's id) as the servers it hits.
//
// - a detection *matches* an event when it opens between the event's start and 45 min after its
//   end, and its source or dependants include the event's source or one of its dependants;
// - an event is *detected* when a detection matches it; its detection delay is the earliest
//   match's opening − the event's start, and its source is *found* when that earliest match
//   names the event's source server as the suspected source;
// - a detection that matches no event is a *false cascade*;
// - events that start within `warmup` of the span's beginning are not scored: the detector needs
//   that much history for a baseline (cascade/anomaly.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "replay/alert_score.hpp"
#include "replay/incidents.hpp"

namespace nordiq::replay {

struct DetectedCascade {
  std::string source;
  std::vector<std::string> dependents;  // every server it named as a dependant while open
  EpochMs started_at = 0;               // the source's anomaly onset
  EpochMs detected_at = 0;              // data time it opened
  EpochMs ended_at = 0;                 // the span's end when still open
};

struct CascadeTruth {
  std::string id, source;
  std::vector<std::string> dependents;
  EpochMs start = 0, end = 0;  // end: the span's end when still open
};

// The events of incidents.csv (cascade_source rows with their dependants), by start.
std::vector<CascadeTruth> cascade_truth(std::span<const Incident> incidents, EpochMs span_end);

struct ScoredCascadeEvent {
  std::string id, source;
  EpochMs start = 0;
  EpochMs detected_at = 0;  // 0: missed
  std::string suspected_source;
};

struct CascadeScore {
  std::vector<ScoredCascadeEvent> per_event;
  int events = 0, detected = 0, source_found = 0;
  std::vector<double> delay_minutes;  // of detected events, ascending
  int detections = 0, false_cascades = 0;
  double days = 0;
  double warmup_hours = 0;

  double detected_share() const { return events > 0 ? static_cast<double>(detected) / events : 0; }
  double source_accuracy() const { return detected > 0 ? static_cast<double>(source_found) / detected : 0; }
  double false_per_day() const { return days > 0 ? false_cascades / days : 0; }
  double delay_quantile(double q) const;  // minutes; 0 without detected events
};

CascadeScore score_cascades(std::span<const DetectedCascade> detections, std::span<const CascadeTruth> truth,
                            const ScoredSpan& span, int64_t warmup_ms);

std::string cascade_score_table(const CascadeScore& s);
nlohmann::ordered_json cascade_score_json(const CascadeScore& s);

}  // namespace nordiq::replay
