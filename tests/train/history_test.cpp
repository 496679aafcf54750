// Reading history: the simulator's CSV (header, values, errors naming line and column) and the
// step grid (bucketing, forward fill ≤ 12 steps, restart after longer gaps, late records).
#include <gtest/gtest.h>

#include <sstream>

#include "synthetic.hpp"
#include "train/history.hpp"

namespace nordiq::train {
namespace {

using test::csv_row;
using test::kHeader;
using test::kStepMs;
using test::kT0;

History parse(const std::string& text) {
  std::istringstream in(text);
  return read_history_csv(in, "mem.csv");
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const HistoryError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HistoryCsv, ReadsSimulatorRowsIntoColumnarPerServerSeries) {
  std::string csv = std::string(kHeader) + "\n";
  // Rows by timestamp then server, as the simulator writes them.
  for (int i = 0; i < 3; ++i) {
    csv += csv_row(kT0 + i * kStepMs, "ppdb001", "database", "healthy", 10 + i) + "\n";
    csv += csv_row(kT0 + i * kStepMs, "ppweb001", "web_api", i == 2 ? "heavy_load" : "idle",
                   20 + i) + "\n";
  }
  const History h = parse(csv);
  ASSERT_EQ(h.servers.size(), 2u);
  EXPECT_EQ(h.records, 6);
  EXPECT_EQ(h.first_step, kT0);
  EXPECT_EQ(h.last_step, kT0 + 2 * kStepMs);
  const ServerSeries& db = h.servers[0];
  const ServerSeries& web = h.servers[1];
  EXPECT_EQ(db.name, "ppdb001");
  EXPECT_EQ(db.profile, Profile::database);
  EXPECT_EQ(web.profile, Profile::web_api);
  ASSERT_EQ(db.segments.size(), 1u);
  EXPECT_EQ(db.segments[0].length, 3);
  EXPECT_EQ(db.segments[0].first_step, kT0);
  for (int k = 0; k < kNumMetrics; ++k) {
    EXPECT_FLOAT_EQ(db.metric[k][2], 12.f) << kMetrics[k].name;
    EXPECT_FLOAT_EQ(web.metric[k][0], 20.f) << kMetrics[k].name;
  }
  EXPECT_EQ(web.status[0], static_cast<uint8_t>(Status::idle));
  EXPECT_EQ(web.status[2], static_cast<uint8_t>(Status::heavy_load));

  // A view is pointers into the columns: no copy.
  const WindowView v = web.view(web.segments[0], 1, 2, h.step_ms);
  EXPECT_EQ(v.length, 2);
  EXPECT_EQ(v.first_step, kT0 + kStepMs);
  EXPECT_EQ(v.metric[5], web.metric[5].data() + 1);
  EXPECT_EQ(v.status, web.status.data() + 1);
}

TEST(HistoryCsv, ProfileColumnIsOptionalAndColumnsMayComeInAnyOrder) {
  // No profile column, columns reversed, an extra column that is ignored.
  std::string header = "extra";
  for (int k = kNumMetrics - 1; k >= 0; --k) header += "," + std::string(kMetrics[k].name);
  header += ",status,server_name,timestamp";
  std::string row = "x";
  for (int k = kNumMetrics - 1; k >= 0; --k) row += fmt::format(",{}", k);
  row += ",healthy,ppml0001," + format_iso8601(kT0);
  const History h = parse(header + "\r\n" + row + "\r\n");
  ASSERT_EQ(h.servers.size(), 1u);
  EXPECT_EQ(h.servers[0].profile, Profile::ml_compute);  // from the name
  for (int k = 0; k < kNumMetrics; ++k) EXPECT_FLOAT_EQ(h.servers[0].metric[k][0], k);
}

TEST(HistoryCsv, HeaderWithoutARequiredColumnIsRejectedNamingIt) {
  std::string header = kHeader;
  header.replace(header.find(",mem_used_pct"), 13, "");
  const std::string e = error_of(header + "\n");
  EXPECT_NE(e.find("mem.csv:1"), std::string::npos) << e;
  EXPECT_NE(e.find("mem_used_pct"), std::string::npos) << e;
  EXPECT_NE(error_of(std::string(kHeader) + ",cpu_sys_pct\n").find("appears twice"),
            std::string::npos);
  EXPECT_NE(error_of("").find("empty file"), std::string::npos);
}

TEST(HistoryCsv, BadValueIsRejectedNamingLineAndColumn) {
  const std::string good = csv_row(kT0, "ppdb001", "database", "healthy", 10);
  std::string bad = csv_row(kT0 + kStepMs, "ppdb001", "database", "healthy", 10);
  // Column 7 is cpu_iowait_pct: replace its value.
  size_t pos = 0;
  for (int c = 0; c < 6; ++c) pos = bad.find(',', pos) + 1;
  bad.replace(pos, bad.find(',', pos) - pos, "abc");
  const std::string e = error_of(std::string(kHeader) + "\n" + good + "\n" + bad + "\n");
  EXPECT_NE(e.find("mem.csv:3: column 7 (cpu_iowait_pct)"), std::string::npos) << e;
  EXPECT_NE(e.find("'abc'"), std::string::npos) << e;
}

TEST(HistoryCsv, ValuesOutsideTheContractAreRejected) {
  const std::string head = std::string(kHeader) + "\n";
  auto with = [&](int column, std::string_view value) {
    std::string row = csv_row(kT0, "ppdb001", "database", "healthy", 10);
    size_t pos = 0;
    for (int c = 0; c < column; ++c) pos = row.find(',', pos) + 1;
    const size_t end = row.find(',', pos);
    row.replace(pos, (end == std::string::npos ? row.size() : end) - pos, value);
    return error_of(head + row + "\n");
  };
  EXPECT_NE(with(9, "104.2").find("column 10 (mem_used_pct): must be between 0 and 100"),
            std::string::npos);
  EXPECT_NE(with(14, "2.5").find("(back_close_wait): must be an integer"), std::string::npos);
  EXPECT_NE(with(12, "nan").find("(net_in_mb_s): not a finite number"), std::string::npos);
  EXPECT_NE(with(12, "").find("(net_in_mb_s): not a finite number"), std::string::npos);
  EXPECT_NE(with(0, "yesterday").find("column 1 (timestamp)"), std::string::npos);
  EXPECT_NE(with(1, "bad name!").find("column 2 (server_name)"), std::string::npos);
  EXPECT_NE(with(2, "mainframe").find("unknown profile 'mainframe'"), std::string::npos);
  EXPECT_NE(with(3, "sleeping").find("unknown status 'sleeping'"), std::string::npos);
  const std::string short_row = head + format_iso8601(kT0) + ",ppdb001,database,healthy,1\n";
  EXPECT_NE(error_of(short_row).find("mem.csv:2: expected 18 columns, got 5"), std::string::npos);
}

TEST(HistoryCsv, StreamsFilesLargerThanTheReadBuffer) {
  // ~2.5 MB: lines straddle the 1 MiB chunk boundaries.
  std::string csv = std::string(kHeader) + "\n";
  const int steps = 3000, servers = 8;
  for (int i = 0; i < steps; ++i)
    for (int s = 0; s < servers; ++s)
      csv += csv_row(kT0 + i * kStepMs, fmt::format("ppweb{:03}", s + 1), "web_api", "healthy",
                     (i * 7 + s) % 90) + "\n";
  ASSERT_GT(csv.size(), 2u << 20);
  const History h = parse(csv);
  ASSERT_EQ(h.servers.size(), static_cast<size_t>(servers));
  EXPECT_EQ(h.records, steps * servers);
  for (int s = 0; s < servers; ++s) {
    ASSERT_EQ(h.servers[s].steps(), steps);
    for (int i = 0; i < steps; i += 97)
      EXPECT_FLOAT_EQ(h.servers[s].metric[0][i], (i * 7 + s) % 90);
  }
}

// ---- the step grid ---------------------------------------------------------------------------

void add(HistoryBuilder& b, ServerId id, int step, float v, Status st = Status::healthy,
         int64_t offset_ms = 0) {
  float vals[kNumMetrics];
  for (float& x : vals) x = v;
  b.add(id, kT0 + step * kStepMs + offset_ms, vals, st);
}

TEST(HistoryGrid, GapOfTwelveStepsIsForwardFilledAndMarkedUnobserved) {
  HistoryBuilder b;
  const ServerId id = b.intern("ppdb001", Profile::database);
  add(b, id, 0, 1);
  add(b, id, 1, 2, Status::heavy_load);
  add(b, id, 14, 3);  // steps 2..13 missing: 12 steps
  const History h = b.finish();
  const ServerSeries& s = h.servers[0];
  ASSERT_EQ(s.segments.size(), 1u);
  ASSERT_EQ(s.steps(), 15);
  EXPECT_EQ(h.filled_steps, 12);
  EXPECT_EQ(h.restarts, 0);
  for (int i = 2; i < 14; ++i) {
    EXPECT_EQ(s.observed[i], 0);
    EXPECT_FLOAT_EQ(s.metric[3][i], 2.f);  // the previous step's value
    EXPECT_EQ(s.status[i], static_cast<uint8_t>(Status::heavy_load));
  }
  EXPECT_EQ(s.observed[14], 1);
  EXPECT_FLOAT_EQ(s.metric[3][14], 3.f);
}

TEST(HistoryGrid, GapOfThirteenStepsRestartsTheSeries) {
  HistoryBuilder b;
  const ServerId id = b.intern("ppdb001", Profile::database);
  add(b, id, 0, 1);
  add(b, id, 1, 2);
  add(b, id, 15, 3);  // steps 2..14 missing: 13 steps
  add(b, id, 16, 4);
  const History h = b.finish();
  const ServerSeries& s = h.servers[0];
  ASSERT_EQ(s.segments.size(), 2u);
  EXPECT_EQ(h.restarts, 1);
  EXPECT_EQ(h.filled_steps, 0);
  EXPECT_EQ(s.segments[0].length, 2);
  EXPECT_EQ(s.segments[1].begin, 2);
  EXPECT_EQ(s.segments[1].length, 2);
  EXPECT_EQ(s.segments[1].first_step, kT0 + 15 * kStepMs);
  EXPECT_EQ(h.last_step, kT0 + 16 * kStepMs);
}

TEST(HistoryGrid, RecordsInOneStepAreAveragedWithTheWorstStatus) {
  HistoryBuilder b;
  const ServerId id = b.intern("ppdb001", Profile::database);
  add(b, id, 0, 10, Status::healthy, 0);
  add(b, id, 0, 20, Status::critical_issue, 5'000);
  add(b, id, 0, 60, Status::idle, 299'999);
  add(b, id, 1, 5, Status::healthy, 1);
  const History h = b.finish();
  const ServerSeries& s = h.servers[0];
  ASSERT_EQ(s.steps(), 2);
  EXPECT_FLOAT_EQ(s.metric[0][0], 30.f);
  EXPECT_EQ(s.status[0], static_cast<uint8_t>(Status::critical_issue));
  EXPECT_EQ(h.merged_records, 2);
}

TEST(HistoryGrid, LateRecordsGiveTheSameSeriesAsOrderedOnes) {
  const int order[] = {0, 1, 5, 2, 3, 20, 4, 6, 21, 7};
  HistoryBuilder shuffled, ordered;
  const ServerId a = shuffled.intern("ppml0001", Profile::ml_compute);
  const ServerId o = ordered.intern("ppml0001", Profile::ml_compute);
  for (int step : order) add(shuffled, a, step, step * 1.5f);
  add(shuffled, a, 3, 100.f);  // a second record for step 3, late
  for (int step = 0; step <= 21; ++step) {
    if (step >= 8 && step <= 19) continue;
    add(ordered, o, step, step * 1.5f);
    if (step == 3) add(ordered, o, 3, 100.f);
  }
  const History hs = shuffled.finish(), ho = ordered.finish();
  const ServerSeries &s = hs.servers[0], &r = ho.servers[0];
  ASSERT_EQ(s.steps(), r.steps());
  EXPECT_EQ(s.observed, r.observed);
  for (int k = 0; k < kNumMetrics; ++k) EXPECT_EQ(s.metric[k], r.metric[k]);
  EXPECT_EQ(hs.filled_steps, ho.filled_steps);
  EXPECT_EQ(hs.filled_steps, 12);  // steps 8..19
  EXPECT_EQ(hs.merged_records, 1);
  EXPECT_FLOAT_EQ(s.metric[0][3], (4.5f + 100.f) / 2);
}

TEST(HistoryGrid, LoadHistoryNamesAMissingPath) {
  try {
    load_history("/nonexistent/history.csv");
    FAIL() << "no error";
  } catch (const HistoryError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/history.csv"), std::string::npos);
  }
}

// ---- truncation (the training part of a daemon's retraining job) ------------------------------

TEST(TruncateHistory, KeepsOnlyStepsBeforeTheEndAndDropsServersLeftEmpty) {
  HistoryBuilder b;
  const ServerId a = b.intern("ppdb001", Profile::database);
  const ServerId late = b.intern("ppweb001", Profile::web_api);
  for (int i = 0; i < 10; ++i) add(b, a, i, float(i));
  for (int i = 30; i < 35; ++i) add(b, a, i, float(i));  // a restart: second segment
  for (int i = 40; i < 45; ++i) add(b, late, i, 1);
  const History h = b.finish();
  const History t = truncate_history(h, kT0 + 33 * kStepMs);
  ASSERT_EQ(t.servers.size(), 1u);
  const ServerSeries& s = t.servers[0];
  EXPECT_EQ(s.name, "ppdb001");
  ASSERT_EQ(s.segments.size(), 2u);
  EXPECT_EQ(s.segments[0].length, 10);
  EXPECT_EQ(s.segments[1].length, 3);  // steps 30, 31, 32
  EXPECT_EQ(s.steps(), 13);
  EXPECT_FLOAT_EQ(s.metric[0][12], 32.f);
  EXPECT_EQ(t.first_step, kT0);
  EXPECT_EQ(t.last_step, kT0 + 32 * kStepMs);
  EXPECT_TRUE(truncate_history(h, kT0).empty());
}

}  // namespace
}  // namespace nordiq::train
