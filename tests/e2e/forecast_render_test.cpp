// Unit checks of the hand-written JSON of the predictions API (the e2e tests parse it whole).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/predictions_json.hpp"
#include "api/historical_endpoint.hpp"

using namespace nordiq;
using namespace nordiq::api;

TEST(ForecastRender, NumbersAreCompactFixedPointAndValidJson) {
  auto num = [](double v) {
    std::string s;
    append_number(s, v);
    return s;
  };
  EXPECT_EQ(num(45.23456), "45.235");
  EXPECT_EQ(num(0.004), "0.004");
  EXPECT_EQ(num(3650), "3650");
  EXPECT_EQ(num(-0.5), "-0.5");
  EXPECT_EQ(num(-0.0001), "0");
  EXPECT_EQ(num(100.0), "100");
  EXPECT_EQ(num(1e15), "1000000000000000");  // beyond fixed point: shortest round-trip form
  EXPECT_EQ(num(-12.25), "-12.25");
  EXPECT_EQ(num(std::nan("")), "null");
  for (double v : {0.1, 99.999, 12345.678, 1e15, -3.25})
    EXPECT_NEAR(nlohmann::json::parse(num(v)).get<double>(), v, 1e-3 * std::max(1.0, std::fabs(v) * 1e-12));
}

// The rendering of every number against its rule written plainly: rounded half away from zero to
// thousandths, the integer part, then ".ddd" without trailing zeros; across signs, the tables'
// edges (integer parts 999 and 1,000, fractions ending in zeros) and large values.
TEST(ForecastRender, EveryNumberIsItsThousandthsRoundedHalfAwayWithoutTrailingZeros) {
  auto reference = [](double v) {
    const long long scaled = static_cast<long long>(v * 1000.0 + (v >= 0 ? 0.5 : -0.5));
    const unsigned long long mag = scaled < 0 ? 0ULL - static_cast<unsigned long long>(scaled) : static_cast<unsigned long long>(scaled);
    std::string s = (scaled < 0 ? "-" : "") + std::to_string(mag / 1000);
    if (mag % 1000 != 0) {
      std::string f = std::to_string(1000 + mag % 1000).substr(1);  // three digits, zeros kept
      while (f.back() == '0') f.pop_back();
      s += "." + f;
    }
    return s;
  };
  std::vector<double> values;
  for (long long k = -1'200'003; k <= 1'200'003; k += 7) values.push_back(static_cast<double>(k) / 1000.0);
  for (long long k = -1'200'003; k <= 1'200'003; k += 7) values.push_back(static_cast<double>(k) / 1000.0 + 0.0005);
  for (const double v : {999.9995, 999.9994, 1000.0, -999.9995, 0.0005, -0.0005, 0.1, 0.01, 123456.789, 99999999999.999,
                         -3650.25, 1e11, 4.2e-7})
    values.push_back(v);
  for (const double v : values) {
    std::string s;
    append_number(s, v);
    ASSERT_EQ(s, reference(v)) << v;
  }
}

TEST(ForecastRender, StringsAreEscaped) {
  std::string s;
  append_json_string(s, "a\"b\\c\n\x01");
  EXPECT_EQ(nlohmann::json::parse(s).get<std::string>(), "a\"b\\c\n\x01");
}

TEST(ForecastRender, ServerObjectHonoursMetricAndQuantileMasks) {
  serve::ServerForecast sf;
  sf.name = "ppdb001";
  sf.profile = Profile::database;
  sf.horizon = 3;
  sf.last_step = 1736935200000;
  sf.step_ms = 300000;
  std::vector<float> values(kNumMetrics * forecast::kNumQuantiles * 3);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 97);
  sf.own_values(values);
  render_server_fragments(sf);
  std::string out;
  MetricMask metrics;
  metrics.set(5);
  append_server_object(out, sf, metrics, default_quantiles());
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["server_name"], "ppdb001");
  EXPECT_EQ(j["profile"], "database");
  EXPECT_EQ(j["forecast"]["timestamps"][0], "2025-01-15T10:05:00Z");
  EXPECT_EQ(j["forecast"]["timestamps"][2], "2025-01-15T10:15:00Z");
  ASSERT_EQ(j["forecast"].size(), 2u);
  const auto& mem = j["forecast"]["mem_used_pct"];
  ASSERT_EQ(mem.size(), 3u);
  for (int t = 0; t < 3; ++t) EXPECT_EQ(mem["p50"][t].get<double>(), sf.path(5, forecast::kP50)[t]);
}

// Issue #14, a compact snapshot: only p10/p50/p90 (what the fleet-wide reads serve) are kept as
// JSON; p02/p25/p75/p98 are rendered from the values when a request asks for them.
TEST(ForecastRender, EveryQuantileIsServedWhileOnlyTheFleetWideOnesAreKeptAsJson) {
  serve::ServerForecast sf;
  sf.name = "ppml0001";
  sf.horizon = 96;
  sf.last_step = 1736935200000;
  sf.step_ms = 300000;
  std::vector<float> values(kNumMetrics * forecast::kNumQuantiles * 96);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 1009) * 0.137f;
  sf.own_values(values);
  render_server_fragments(sf);
  for (int k = 0; k < kNumMetrics; ++k)
    for (int q = 0; q < forecast::kNumQuantiles; ++q)
      EXPECT_EQ(sf.series_json(k, q).empty(), !default_quantiles().test(q)) << k << "," << q;

  std::string out;
  append_server_object(out, sf, MetricMask().set(), all_quantiles());
  const auto j = nlohmann::json::parse(out);
  for (int k = 0; k < kNumMetrics; ++k)
    for (int q = 0; q < forecast::kNumQuantiles; ++q) {
      const auto& path = j["forecast"][kMetrics[k].name][forecast::kQuantileNames[q]];
      ASSERT_EQ(path.size(), 96u) << k << "," << q;
      for (int t = 0; t < 96; ++t) ASSERT_NEAR(path[t].get<double>(), sf.path(k, q)[t], 5e-4) << k << "," << q << "," << t;
    }
}

// A server's rendered JSON is a slice of a block its renderer shares with the servers rendered
// after it (core/shared_arena.hpp): it must stay as rendered while later cycles render others, and
// after those forecasts are gone.
TEST(ForecastRender, AServersRenderedJsonOutlivesLaterRendersAndTheirForecasts) {
  auto forecast_of = [](int i) {
    auto sf = std::make_unique<serve::ServerForecast>();
    sf->name = i == 0 ? "first" : "later";
    sf->horizon = 96;
    sf->last_step = 1736935200000 + int64_t{i} * 300000;
    sf->step_ms = 300000;
    std::vector<float> values(kNumMetrics * forecast::kNumQuantiles * 96);
    for (size_t v = 0; v < values.size(); ++v) values[v] = static_cast<float>((v * 7 + static_cast<size_t>(i)) % 1013) * 0.25f;
    sf->own_values(values);
    render_server_fragments(*sf);
    return sf;
  };
  auto first = forecast_of(0);
  const std::string head(first->head), series(first->series);
  // ~27 KB each: 600 of them fill several of the renderer's blocks, each dropped at once.
  for (int i = 1; i <= 600; ++i) {
    auto later = forecast_of(i);
    ASSERT_EQ(later->head.find("\"later\""), 14u);
  }
  EXPECT_EQ(first->head, head);
  EXPECT_EQ(first->series, series);
  std::string out;
  append_server_object(out, *first, MetricMask().set(), default_quantiles());
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["server_name"], "first");
  EXPECT_EQ(j["forecast"]["cpu_user_pct"]["p90"][95].get<double>(), first->path(0, forecast::kP90)[95]);
}

TEST(ForecastRender, TimeRangesAreTheDocumentedOnes) {
  EXPECT_EQ(parse_time_range("30m"), 30 * 60'000);
  EXPECT_EQ(parse_time_range("1M"), 30LL * 86'400'000);
  EXPECT_EQ(parse_time_range("1w"), 7LL * 86'400'000);
  EXPECT_FALSE(parse_time_range("2d"));
  EXPECT_FALSE(parse_time_range(""));
}
