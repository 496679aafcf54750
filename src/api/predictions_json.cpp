#include "api/predictions_json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <iterator>
#include <vector>

#include "core/shared_arena.hpp"
#include "core/time.hpp"

namespace nordiq::api {

using forecast::kNumQuantiles;
using forecast::kQuantileNames;

namespace {

// Up to 4 characters and their count: the digits of an integer part below 1,000, or a fraction's
// ".d" / ".dd" / ".ddd" with trailing zeros dropped ("" for 0). Always copied 4 bytes at a time.
struct Chars4 {
  char text[4];
  uint8_t len;
};
constexpr std::array<Chars4, 1000> kWholes = [] {
  std::array<Chars4, 1000> t{};
  for (int n = 0; n < 1000; ++n) {
    Chars4& c = t[size_t(n)];
    if (n >= 100) c.text[c.len++] = static_cast<char>('0' + n / 100);
    if (n >= 10) c.text[c.len++] = static_cast<char>('0' + n / 10 % 10);
    c.text[c.len++] = static_cast<char>('0' + n % 10);
  }
  return t;
}();
constexpr std::array<Chars4, 1000> kFractions = [] {
  std::array<Chars4, 1000> t{};
  for (int f = 1; f < 1000; ++f) {
    Chars4& c = t[size_t(f)];
    const int digits = f % 100 == 0 ? 1 : (f % 10 == 0 ? 2 : 3);
    c.text[c.len++] = '.';
    for (int d = 0, div = 100; d < digits; ++d, div /= 10) c.text[c.len++] = static_cast<char>('0' + f / div % 10);
  }
  return t;
}();

// Writes v as fixed point with 3 decimals, trailing zeros trimmed ("45.235", "0.004", "3650"),
// rounded half away from zero: integer formatting straight into the buffer is ~10× faster than
// printf-style, and a cycle renders millions of values, most of them below 1,000, whose digits
// and fraction come from two tables. Needs 24 bytes of room; |v| < 1e12.
char* write_fixed3(char* p, double v) {
  const long long scaled = static_cast<long long>(v * 1000.0 + (v >= 0 ? 0.5 : -0.5));
  if (scaled < 0) *p++ = '-';
  const unsigned long long mag = scaled < 0 ? 0ULL - static_cast<unsigned long long>(scaled)
                                            : static_cast<unsigned long long>(scaled);
  const unsigned long long whole = mag / 1000;
  if (whole < 1000) {
    std::memcpy(p, kWholes[whole].text, 4);
    p += kWholes[whole].len;
  } else {
    p = std::to_chars(p, p + 20, whole).ptr;
  }
  const Chars4& fraction = kFractions[mag % 1000];
  std::memcpy(p, fraction.text, 4);
  return p + fraction.len;
}

bool fits_fixed3(double v) { return std::isfinite(v) && std::fabs(v) < 1e12; }

constexpr size_t kMaxNumberChars = 24;
size_t path_json_room(int horizon) { return static_cast<size_t>(horizon) * (kMaxNumberChars + 1) + 2; }

// "[v0,v1,...]" into p (path_json_room(horizon) bytes of room); returns the end.
char* write_path_json(char* p, const float* path, int horizon) {
  *p++ = '[';
  for (int t = 0; t < horizon; ++t) {
    if (t) *p++ = ',';
    const double v = path[t];
    if (fits_fixed3(v)) {
      p = write_fixed3(p, v);
    } else {  // never produced by the forecasters (clamped, finite); kept valid JSON anyway
      std::memcpy(p, "null", 4);
      p += 4;
    }
  }
  *p++ = ']';
  return p;
}

// A path the snapshot did not render (not a fleet-wide quantile), rendered for this request.
void append_path_json(std::string& out, const float* path, int horizon) {
  const size_t at = out.size();
  out.resize(at + path_json_room(horizon));
  char* const end = write_path_json(out.data() + at, path, horizon);
  out.resize(static_cast<size_t>(end - out.data()));
}

}  // namespace

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (fits_fixed3(v)) {
    char buf[32];
    out.append(buf, write_fixed3(buf, v));
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", v);
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
        else
          out += c;
    }
  }
  out += '"';
}

void render_server_fragments(serve::ServerForecast& sf) {
  // The head is appended into a per-thread buffer whose capacity outlives the call; head and series
  // are then copied out once, together, into this thread's arena (core/shared_arena.hpp): a string
  // each per server was two fresh heap allocations, on fresh pages, every cycle.
  thread_local std::string h;
  thread_local SharedArena arena;
  h.clear();
  h += "\"server_name\":";
  append_json_string(h, sf.name);
  h += ",\"profile\":";
  append_json_string(h, profile_id(sf.profile));
  h += ",\"profile_name\":";
  append_json_string(h, profile_display_name(sf.profile));
  h += ",\"risk_score\":";
  append_number(h, std::round(sf.risk.score * 10) / 10);
  h += ",\"level\":";
  append_json_string(h, risk::level_name(sf.risk.level));
  h += ",\"risk_driver\":";
  if (sf.risk.score > 0)
    append_json_string(h, risk::signal_name(sf.risk.driver));
  else
    h += "null";
  h += ",\"model\":";
  append_json_string(h, forecast::model_kind_name(sf.model));
  h += ",\"steps\":";
  append_number(h, sf.steps);
  h += ",\"last_step\":";
  append_json_string(h, format_iso8601(sf.last_step));
  h += ",\"current\":{";
  for (int k = 0; k < kNumMetrics; ++k) {
    if (k) h += ',';
    append_json_string(h, kMetrics[k].name);
    h += ':';
    append_number(h, sf.current[k]);
  }
  h += '}';
  if (sf.served) {  // per metric, the forecaster served in each band (5m, 30m, 1h, 4h, 8h)
    h += ",\"served_by\":{";
    for (int k = 0; k < kNumMetrics; ++k) {
      if (k) h += ',';
      append_json_string(h, kMetrics[k].name);
      h += ":[";
      for (int b = 0; b < forecast::kNumEvalHorizons; ++b) {
        if (b) h += ',';
        append_json_string(h, forecast::kCandidateNames[sf.served_by[k][b]]);
      }
      h += ']';
    }
    h += '}';
  }
  const size_t head_bytes = h.size();

  // Servers whose last step is the same share the timestamp array: render it once per cycle
  // (per worker thread) instead of 96 ISO strings per server.
  thread_local EpochMs cached_last = -1;
  thread_local int64_t cached_step = 0;
  thread_local int cached_horizon = -1;
  thread_local std::shared_ptr<const std::string> cached_timestamps;
  if (!cached_timestamps || sf.last_step != cached_last || sf.step_ms != cached_step || sf.horizon != cached_horizon) {
    auto timestamps = std::make_shared<std::string>();
    *timestamps += '[';
    for (int t = 0; t < sf.horizon; ++t) {
      if (t) *timestamps += ',';
      append_json_string(*timestamps, format_iso8601(sf.last_step + (t + 1) * sf.step_ms));
    }
    *timestamps += ']';
    cached_timestamps = std::move(timestamps);
    cached_last = sf.last_step;
    cached_step = sf.step_ms;
    cached_horizon = sf.horizon;
  }
  sf.timestamps = cached_timestamps;

  // The head, then the fleet-wide quantiles' paths written straight after it, in a per-thread
  // scratch buffer sized for the worst case (grown once).
  const QuantileMask rendered = default_quantiles();
  const size_t worst = static_cast<size_t>(kNumMetrics) * rendered.count() * path_json_room(sf.horizon);
  thread_local std::vector<char> scratch;
  if (scratch.size() < head_bytes + worst) scratch.resize(head_bytes + worst);
  std::memcpy(scratch.data(), h.data(), head_bytes);
  char* const base = scratch.data() + head_bytes;
  char* p = base;
  sf.spans.fill({0, 0});
  for (int k = 0; k < kNumMetrics; ++k)
    for (int q = 0; q < kNumQuantiles; ++q) {
      if (!rendered.test(q)) continue;
      char* const begin = p;
      p = write_path_json(p, sf.path(k, q), sf.horizon);
      sf.spans[k * kNumQuantiles + q] = {static_cast<uint32_t>(begin - base), static_cast<uint32_t>(p - begin)};
    }
  const size_t text_bytes = static_cast<size_t>(p - scratch.data());
  const std::string_view text = arena.copy(std::string_view(scratch.data(), text_bytes), sf.text_block);
  sf.head = text.substr(0, head_bytes);
  sf.series = text.substr(head_bytes);
}

void append_server_object(std::string& out, const serve::ServerForecast& sf, const MetricMask& metrics,
                          const QuantileMask& quantiles) {
  out += '{';
  out += sf.head;
  out += ",\"forecast\":{\"timestamps\":";
  out += *sf.timestamps;
  for (int k = 0; k < kNumMetrics; ++k) {
    if (!metrics.test(k)) continue;
    out += ',';
    append_json_string(out, kMetrics[k].name);
    out += ":{";
    bool first = true;
    for (int q = 0; q < kNumQuantiles; ++q) {
      if (!quantiles.test(q)) continue;
      if (!first) out += ',';
      first = false;
      append_json_string(out, kQuantileNames[q]);
      out += ':';
      if (const std::string_view rendered = sf.series_json(k, q); !rendered.empty()) out += rendered;
      else append_path_json(out, sf.path(k, q), sf.horizon);
    }
    out += '}';
  }
  out += "}}";
}

std::vector<const serve::ServerForecast*> servers_by_name(const serve::PredictionSnapshot& snap) {
  std::vector<const serve::ServerForecast*> servers;
  servers.reserve(snap.order.size());
  for (ServerId id : snap.order) servers.push_back(snap.find(id));
  const auto by_name = [](const serve::ServerForecast* a, const serve::ServerForecast* b) { return a->name < b->name; };
  if (!std::is_sorted(servers.begin(), servers.end(), by_name)) std::sort(servers.begin(), servers.end(), by_name);
  return servers;
}

void append_server_entry(std::string& out, const serve::ServerForecast& sf, const MetricMask& metrics,
                         const QuantileMask& quantiles) {
  append_json_string(out, sf.name);
  out += ':';
  append_server_object(out, sf, metrics, quantiles);
}

nlohmann::json summary_json(const risk::FleetSummary& s, size_t open_alerts) {
  using risk::Level;
  auto round2 = [](double v) { return std::round(v * 100) / 100; };
  return {
      {"total_servers", s.total_servers},
      {"critical", s.per_level[static_cast<int>(Level::critical)]},
      {"warning", s.per_level[static_cast<int>(Level::warning)]},
      {"degraded", s.per_level[static_cast<int>(Level::degraded)]},
      {"healthy", s.per_level[static_cast<int>(Level::healthy)]},
      {"fleet_health", round2(s.fleet_health)},
      {"mean_risk", round2(s.mean_risk)},
      {"prob_30m", round2(s.prob_30m * 100) / 100},
      {"prob_8h", round2(s.prob_8h * 100) / 100},
      {"open_alerts", open_alerts},
  };
}

nlohmann::json alert_json(const risk::TrackedAlert& t) {
  const risk::Alert& a = t.alert;
  auto eta = [](int v) { return v == risk::kNoCrossing ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {
      {"server_name", t.server_name},
      {"metric", risk::signal_metric(a.signal)},
      {"signal", risk::signal_name(a.signal)},
      {"level", risk::level_name(a.level)},
      {"threshold", a.threshold},
      {"current", std::round(a.current * 100) / 100},
      {"eta_minutes", {{"p90", eta(a.eta_p90)}, {"p50", eta(a.eta_p50)}, {"p10", eta(a.eta_p10)}}},
      {"message", risk::alert_message(a)},
      // Why: how likely the forecast makes a crossing within `window_minutes` ("now": already there).
      {"likelihood", a.eta_p50 == 0 && a.eta_p90 == 0 ? "now" : a.likely ? "likely" : "possible"},
      {"probability", std::round(a.probability * 100) / 100},
      {"window_minutes", a.window_minutes},
      {"basis", a.climb ? "climb" : "forecast"},
      {"opened_at", format_iso8601(t.opened_at)},
      {"updated_at", format_iso8601(t.updated_at)},
  };
}

nlohmann::json model_json(const serve::ModelStatus& m, const serve::PredictionSnapshot& snap) {
  nlohmann::json j = {
      {"name", m.name},
      {"type", m.tft_loaded ? "tft" : "baseline"},
      {"loaded", m.tft_loaded},
      {"detail", m.detail},
      {"servers_tft", snap.servers_tft},
      {"servers_baseline", snap.servers_baseline},
  };
  if (!m.info.empty()) j["info"] = m.info;
  return j;
}

}  // namespace nordiq::api
