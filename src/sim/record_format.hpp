// Text forms of simulated rows: the §9 CSV line, the §1.1 JSON record (stream mode) and the
// incidents.csv line. Fixed-point integers through std::to_chars, so the bytes are exact.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sim/fleet.hpp"
#include "sim/record.hpp"

namespace nordiq::sim {

inline constexpr std::string_view kCsvHeader =
    "timestamp,server_name,profile,status,cpu_user_pct,cpu_sys_pct,cpu_iowait_pct,cpu_idle_pct,java_cpu_pct,"
    "mem_used_pct,swap_used_pct,disk_usage_pct,net_in_mb_s,net_out_mb_s,back_close_wait,front_close_wait,"
    "load_average,uptime_days";

// `timestamp` is the pre-formatted ISO form of the step (`2025-01-15T10:05:00Z`).
void append_csv_row(std::string& out, std::string_view timestamp, const ServerSpec& server, const SimRecord& r);
// `{"timestamp":...,"server_name":...,"profile":...,"status":...,<14 metrics>}`
void append_json_record(std::string& out, std::string_view timestamp, const ServerSpec& server, const SimRecord& r);

// Sorted by start, then server_name (then id, for ties).
void sort_incidents(std::vector<IncidentRow>& rows);
void append_incident_row(std::string& out, const IncidentRow& r);

}  // namespace nordiq::sim
