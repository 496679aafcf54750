// The data contract's vocabulary (SPEC §1.1, §1.4): the 14 metrics, the 8 statuses and the 7
// profiles, each as a dense enum so hot paths index arrays instead of comparing strings.
// Enum order = the model's category order (names sorted; model code = enum value + 1, 0 = unknown).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace nordiq {

inline constexpr int kNumMetrics = 14;

// In contract order: model targets, API arrays and storage columns all use this order.
enum class Metric : uint8_t {
  cpu_user_pct, cpu_sys_pct, cpu_iowait_pct, cpu_idle_pct, java_cpu_pct, mem_used_pct,
  swap_used_pct, disk_usage_pct, net_in_mb_s, net_out_mb_s, back_close_wait, front_close_wait,
  load_average, uptime_days
};

// How a metric is transformed before normalisation (SPEC §2.1).
enum class MetricTransform : uint8_t { identity, log1p };

struct MetricSpec {
  std::string_view name;
  double min;          // valid range, inclusive
  double max;          // +inf where unbounded
  bool integer;        // must be an integral JSON number
  MetricTransform transform;
};

inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();

inline constexpr std::array<MetricSpec, kNumMetrics> kMetrics = {{
    {"cpu_user_pct", 0, 100, false, MetricTransform::identity},
    {"cpu_sys_pct", 0, 100, false, MetricTransform::identity},
    {"cpu_iowait_pct", 0, 100, false, MetricTransform::identity},
    {"cpu_idle_pct", 0, 100, false, MetricTransform::identity},
    {"java_cpu_pct", 0, 100, false, MetricTransform::identity},
    {"mem_used_pct", 0, 100, false, MetricTransform::identity},
    {"swap_used_pct", 0, 100, false, MetricTransform::identity},
    {"disk_usage_pct", 0, 100, false, MetricTransform::identity},
    {"net_in_mb_s", 0, kUnbounded, false, MetricTransform::log1p},
    {"net_out_mb_s", 0, kUnbounded, false, MetricTransform::log1p},
    {"back_close_wait", 0, kUnbounded, true, MetricTransform::log1p},
    {"front_close_wait", 0, kUnbounded, true, MetricTransform::log1p},
    {"load_average", 0, kUnbounded, false, MetricTransform::log1p},
    {"uptime_days", 0, 3650, false, MetricTransform::identity},
}};

std::optional<Metric> metric_from_name(std::string_view name);

// ---- status ---------------------------------------------------------------------------------

inline constexpr int kNumStatuses = 8;

// Sorted by name (model code = value + 1).
enum class Status : uint8_t {
  critical_issue, healthy, heavy_load, idle, maintenance, morning_spike, offline, recovery
};

inline constexpr std::array<std::string_view, kNumStatuses> kStatusNames = {
    "critical_issue", "healthy", "heavy_load", "idle", "maintenance", "morning_spike", "offline",
    "recovery"};

std::optional<Status> status_from_name(std::string_view name);
inline std::string_view status_name(Status s) { return kStatusNames[static_cast<int>(s)]; }

// Severity used to keep the worst status of a step (SPEC §1.3): critical_issue > offline >
// heavy_load > morning_spike > recovery > maintenance > healthy > idle. Higher = worse.
int status_severity(Status s);
inline Status worse_status(Status a, Status b) {
  return status_severity(a) >= status_severity(b) ? a : b;
}

// ---- profile --------------------------------------------------------------------------------

inline constexpr int kNumProfiles = 7;

// Sorted by id (model code = value + 1).
enum class Profile : uint8_t {
  conductor_mgmt, data_ingest, database, generic, ml_compute, risk_analytics, web_api
};

inline constexpr std::array<std::string_view, kNumProfiles> kProfileIds = {
    "conductor_mgmt", "data_ingest", "database", "generic", "ml_compute", "risk_analytics",
    "web_api"};
inline constexpr std::array<std::string_view, kNumProfiles> kProfileDisplayNames = {
    "Conductor", "Data Ingest", "Database", "Generic", "ML Compute", "Risk Analytics", "Web API"};

std::optional<Profile> profile_from_id(std::string_view id);
inline std::string_view profile_id(Profile p) { return kProfileIds[static_cast<int>(p)]; }
inline std::string_view profile_display_name(Profile p) {
  return kProfileDisplayNames[static_cast<int>(p)];
}

// Profile from a server name (SPEC §1.4): case-insensitive, first matching rule wins,
// a rule is `^(prefix1|prefix2|...)\d`; anything else is generic. Call once per server.
Profile profile_from_server_name(std::string_view server_name);

// `[A-Za-z0-9._-]{1,max_len}`
bool valid_server_name(std::string_view name, size_t max_len = 128);

}  // namespace nordiq
