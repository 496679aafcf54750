// One simulated row (a server at a step) in fixed-point form, and the incident ground-truth row.
// Values are integers (hundredths; ten-thousandths for uptime) so formatting is exact and the
// same bytes come out of every build path (CSV, JSON, store).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace nordiq::sim {

struct SimRecord {
  // The first 13 metrics of kMetrics in contract order: hundredths, except the two close-wait
  // counts, which are plain integers.
  std::array<int32_t, kNumMetrics - 1> v{};
  int64_t uptime_e4 = 0;  // uptime_days × 10 000
  Status status = Status::healthy;
  bool online = false;

  double value(Metric m) const;  // as the contract's number
};

// One row of incidents.csv (§6.4).
struct IncidentRow {
  std::string id;
  std::string server_name;
  Profile profile = Profile::generic;
  std::string kind;
  std::string metric;
  std::string effect;
  EpochMs start = 0;
  std::optional<EpochMs> threshold_cross, peak, end;
  std::optional<double> peak_target;
  std::string parent_id;
};

inline constexpr const char* kIncidentsHeader =
    "incident_id,server_name,profile,kind,metric,effect,start,threshold_cross,peak,end,peak_target,parent_id";

// `X-ppdb001-20250115T100500`: kind code, server, start.
std::string incident_id(char code, std::string_view server, EpochMs start);

}  // namespace nordiq::sim
