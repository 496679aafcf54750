#include "sim/record_format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace nordiq::sim {

double SimRecord::value(Metric m) const {
  const int i = static_cast<int>(m);
  if (m == Metric::uptime_days) return static_cast<double>(uptime_e4) / 10000.0;
  if (m == Metric::back_close_wait || m == Metric::front_close_wait) return v[i];
  return static_cast<double>(v[i]) / 100.0;
}

std::string incident_id(char code, std::string_view server, EpochMs start) {
  std::string iso = format_iso8601(start);  // 2025-01-15T10:05:00Z
  std::string compact;
  for (char c : iso)
    if (c != '-' && c != ':' && c != 'Z') compact += c;
  std::string id;
  id += code;
  id += '-';
  id += server;
  id += '-';
  id += compact;
  return id;
}

namespace {

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Fixed point with `decimals` digits: 1234 (2) → "12.34".
void append_fixed(std::string& out, int64_t v, int decimals) {
  if (v < 0) {
    out += '-';
    v = -v;
  }
  int64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  append_int(out, v / scale);
  out += '.';
  char buf[8];
  int64_t frac = v % scale;
  for (int i = decimals - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out.append(buf, decimals);
}

void append_value(std::string& out, const SimRecord& r, int i) {
  if (i == static_cast<int>(Metric::back_close_wait) || i == static_cast<int>(Metric::front_close_wait))
    append_int(out, r.v[i]);
  else
    append_fixed(out, r.v[i], 2);
}

}  // namespace

void append_csv_row(std::string& out, std::string_view timestamp, const ServerSpec& server, const SimRecord& r) {
  out += timestamp;
  out += ',';
  out += server.name;
  out += ',';
  out += profile_id(server.profile);
  out += ',';
  out += status_name(r.status);
  for (int i = 0; i < kNumMetrics - 1; ++i) {
    out += ',';
    append_value(out, r, i);
  }
  out += ',';
  append_fixed(out, r.uptime_e4, 4);
  out += '\n';
}

void append_json_record(std::string& out, std::string_view timestamp, const ServerSpec& server, const SimRecord& r) {
  // Names are [A-Za-z0-9] and the vocabularies are plain words: nothing needs escaping.
  out += "{\"timestamp\":\"";
  out += timestamp;
  out += "\",\"server_name\":\"";
  out += server.name;
  out += "\",\"profile\":\"";
  out += profile_id(server.profile);
  out += "\",\"status\":\"";
  out += status_name(r.status);
  out += '"';
  for (int i = 0; i < kNumMetrics - 1; ++i) {
    out += ",\"";
    out += kMetrics[i].name;
    out += "\":";
    append_value(out, r, i);
  }
  out += ",\"uptime_days\":";
  append_fixed(out, r.uptime_e4, 4);
  out += '}';
}

void sort_incidents(std::vector<IncidentRow>& rows) {
  std::sort(rows.begin(), rows.end(), [](const IncidentRow& a, const IncidentRow& b) {
    if (a.start != b.start) return a.start < b.start;
    if (a.server_name != b.server_name) return a.server_name < b.server_name;
    return a.id < b.id;
  });
}

void append_incident_row(std::string& out, const IncidentRow& r) {
  auto time = [&](const std::optional<EpochMs>& t) {
    if (t) out += format_iso8601(*t);
    out += ',';
  };
  out += r.id;
  out += ',';
  out += r.server_name;
  out += ',';
  out += profile_id(r.profile);
  out += ',';
  out += r.kind;
  out += ',';
  out += r.metric;
  out += ',';
  out += r.effect;
  out += ',';
  out += format_iso8601(r.start);
  out += ',';
  time(r.threshold_cross);
  time(r.peak);
  time(r.end);
  if (r.peak_target) append_fixed(out, std::llround(*r.peak_target * 100.0), 2);
  out += ',';
  out += r.parent_id;
  out += '\n';
}

}  // namespace nordiq::sim
