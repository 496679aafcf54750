// remote_write in: the hand-written protobuf/snappy decoder and the series → records assembler.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ingest/remote_write_assembler.hpp"
#include "ingest/remote_write_decoder.hpp"
#include "ingest/remote_write_wire.hpp"

namespace nordiq {
namespace {

using test::all_metrics;
using test::encode_write_request;
using test::nordiq_series;
using test::WireSeries;

constexpr EpochMs kT0 = 1'760'000'000'000;  // 2025-10-09
constexpr EpochMs kNow = kT0 + 60'000;

RemoteWriteRequest decoded(const std::vector<WireSeries>& series) {
  RemoteWriteRequest r;
  const auto result = decode_remote_write(test::snappy_block(encode_write_request(series)), 1 << 20, r);
  EXPECT_EQ(result.status, RemoteWriteDecodeStatus::ok) << result.message;
  return r;
}


TEST(RemoteWriteDecoder, DecodesLabelsAndSamplesOfEverySeries) {
  WireSeries a{{{"__name__", "nordiq:cpu_user_pct"}, {"instance", "web1:9100"}}, {{12.5, kT0}, {13.5, kT0 + 5000}}};
  WireSeries b{{{"__name__", "up"}}, {{1, kT0}}};
  const RemoteWriteRequest r = decoded({a, b});
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.label(r.series[0], "__name__"), "nordiq:cpu_user_pct");
  EXPECT_EQ(r.label(r.series[0], "instance"), "web1:9100");
  EXPECT_EQ(r.label(r.series[0], "job"), "");
  ASSERT_EQ(r.series[0].sample_count, 2u);
  EXPECT_EQ(r.samples[r.series[0].first_sample + 1].value, 13.5);
  EXPECT_EQ(r.samples[r.series[0].first_sample + 1].timestamp_ms, kT0 + 5000);
  EXPECT_EQ(r.label(r.series[1], "__name__"), "up");
}

TEST(RemoteWriteDecoder, NegativeTimestampsAndSpecialValuesSurvive) {
  const double stale = std::numeric_limits<double>::quiet_NaN();
  const RemoteWriteRequest r = decoded({WireSeries{{{"__name__", "x"}}, {{stale, -1}, {-0.0, 0}, {1e300, 1}}}});
  ASSERT_EQ(r.samples.size(), 3u);
  EXPECT_TRUE(std::isnan(r.samples[0].value));
  EXPECT_EQ(r.samples[0].timestamp_ms, -1);
  EXPECT_EQ(r.samples[2].value, 1e300);
}

TEST(RemoteWriteDecoder, SkipsFieldsItDoesNotRead) {
  // Metadata (WriteRequest field 3), an exemplar (TimeSeries field 3), and unknown varint/fixed32
  // fields, as a newer Prometheus may send.
  std::string series = test::encode_series(nordiq_series("mem_used_pct", "db1", 42, kT0));
  test::put_bytes(series, 3, "exemplar-bytes");
  test::put_key(series, 9, 0);
  test::put_varint(series, 300);
  test::put_key(series, 10, 5);
  series += std::string(4, '\0');
  std::string body;
  test::put_bytes(body, 1, series);
  test::put_bytes(body, 3, "metadata-bytes");
  RemoteWriteRequest r;
  r.body = body;
  ASSERT_EQ(decode_write_request(r).status, RemoteWriteDecodeStatus::ok);
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.samples[0].value, 42);
}

TEST(RemoteWriteDecoder, TruncatedBodyIsAnErrorAtEveryCut) {
  const std::string body = encode_write_request(all_metrics("web1", kT0));
  for (size_t cut = 1; cut < body.size(); ++cut) {
    RemoteWriteRequest r;
    r.body = body.substr(0, cut);
    const auto result = decode_write_request(r);
    // A cut exactly between two series is a valid, shorter request; anywhere else it is an error.
    if (result.status == RemoteWriteDecodeStatus::ok) {
      EXPECT_LT(r.series.size(), static_cast<size_t>(kNumMetrics)) << "cut " << cut;
    } else {
      EXPECT_EQ(result.status, RemoteWriteDecodeStatus::bad_protobuf);
      EXPECT_NE(result.message.find("WriteRequest"), std::string::npos) << result.message;
    }
  }
}

TEST(RemoteWriteDecoder, WrongWireTypeNamesTheField) {
  std::string series;
  test::put_key(series, 2, 0);  // samples as a varint
  test::put_varint(series, 7);
  std::string body;
  test::put_bytes(body, 1, series);
  RemoteWriteRequest r;
  r.body = body;
  const auto result = decode_write_request(r);
  EXPECT_EQ(result.status, RemoteWriteDecodeStatus::bad_protobuf);
  EXPECT_NE(result.message.find("TimeSeries.samples"), std::string::npos) << result.message;
}

TEST(RemoteWriteDecoder, BodyThatIsNotSnappyIsRefused) {
  RemoteWriteRequest r;
  const auto result = decode_remote_write(std::string("\xff\xff\xff\xff\xff\xff", 6), 1 << 20, r);
  EXPECT_EQ(result.status, RemoteWriteDecodeStatus::bad_snappy);
  const std::string good = test::snappy_block(encode_write_request(all_metrics("web1", kT0)));
  std::string corrupt = good;
  corrupt.resize(corrupt.size() / 2);
  EXPECT_EQ(decode_remote_write(corrupt, 1 << 20, r).status, RemoteWriteDecodeStatus::bad_snappy);
}

TEST(RemoteWriteDecoder, DecompressedSizeAboveTheLimitIsRefusedBeforeDecompressing) {
  RemoteWriteRequest r;
  const std::string big = test::snappy_block(std::string(100'000, 'a'));
  const auto result = decode_remote_write(big, 50'000, r);
  EXPECT_EQ(result.status, RemoteWriteDecodeStatus::too_large);
  EXPECT_NE(result.message.find("100000"), std::string::npos) << result.message;
  EXPECT_LT(r.body.capacity(), 100'000u);
}

TEST(RemoteWriteServerName, PortIsStrippedFromInstance) {
  EXPECT_EQ(strip_port("web1:9100"), "web1");
  EXPECT_EQ(strip_port("10.0.0.7:9100"), "10.0.0.7");
  EXPECT_EQ(strip_port("[::1]:9100"), "::1");
  EXPECT_EQ(strip_port("web1"), "web1");
  EXPECT_EQ(strip_port("web1:http"), "web1:http");
}

struct Assembled {
  RemoteWriteCounts counts;
  FeedBatch batch;
};

Assembled add(RemoteWriteAssembler& a, const std::vector<WireSeries>& series, EpochMs now = kNow) {
  Assembled out;
  out.counts = a.add(decoded(series), now, out.batch);
  return out;
}

TEST(RemoteWriteAssembler, FirstTimestampOfAServerWaitsForItsNextOne) {
  RemoteWriteAssembler a;
  const Assembled first = add(a, all_metrics("web1", kT0));
  EXPECT_EQ(first.counts.used, static_cast<size_t>(kNumMetrics));
  EXPECT_TRUE(first.batch.records.empty());
  EXPECT_EQ(a.pending(), 1u);
  const Assembled second = add(a, all_metrics("web1", kT0 + 15'000, 10));
  // The first is complete now that a newer timestamp came; the second has every metric the server sends.
  ASSERT_EQ(second.batch.records.size(), 2u);
  EXPECT_EQ(second.batch.name(second.batch.records[0]), "web1");
  EXPECT_EQ(second.batch.records[0].timestamp, kT0);
  EXPECT_EQ(second.batch.records[1].timestamp, kT0 + 15'000);
  for (int k = 0; k < kNumMetrics; ++k) {
    EXPECT_DOUBLE_EQ(second.batch.records[0].values[k], kMetrics[k].integer ? std::round(1.0 + k) : 1.0 + k);
    EXPECT_DOUBLE_EQ(second.batch.records[1].values[k], 10.0 + k);
  }
  EXPECT_EQ(second.batch.records[0].status, Status::healthy);
  EXPECT_EQ(a.pending(), 0u);
}

TEST(RemoteWriteAssembler, ServerSeriesSplitAcrossTwoRequestsBecomeOneRecord) {
  RemoteWriteAssembler a;
  add(a, all_metrics("web1", kT0));
  add(a, all_metrics("web1", kT0 + 15'000));
  auto series = all_metrics("web1", kT0 + 30'000, 20);
  const std::vector<WireSeries> head(series.begin(), series.begin() + 9), tail(series.begin() + 9, series.end());
  const Assembled one = add(a, head);
  EXPECT_TRUE(one.batch.records.empty()) << "a half record must wait for the rest of its series";
  const Assembled two = add(a, tail);
  ASSERT_EQ(two.batch.records.size(), 1u);
  for (int k = 0; k < kNumMetrics; ++k) EXPECT_DOUBLE_EQ(two.batch.records[0].values[k], 20.0 + k) << kMetrics[k].name;
}

TEST(RemoteWriteAssembler, MissingMetricIsCarriedForwardAndZeroUntilItEverCame) {
  RemoteWriteAssembler a;
  auto without_java = [](EpochMs t, double base) {
    auto s = all_metrics("app1", t, base);
    s.erase(s.begin() + static_cast<int>(Metric::java_cpu_pct));
    return s;
  };
  add(a, without_java(kT0, 1));
  const Assembled r = add(a, without_java(kT0 + 15'000, 1));
  ASSERT_EQ(r.batch.records.size(), 2u) << "a server without java is complete without java";
  EXPECT_EQ(r.batch.records[1].values[static_cast<int>(Metric::java_cpu_pct)], 0.0);
  EXPECT_EQ(r.batch.records[1].values[static_cast<int>(Metric::mem_used_pct)], 1.0 + 5);

  // Once java came, a record without it carries its last value.
  auto with_java = all_metrics("app1", kT0 + 30'000, 30);
  add(a, with_java);
  auto partial = without_java(kT0 + 45'000, 50);
  const Assembled held = add(a, partial);
  EXPECT_TRUE(held.batch.records.empty()) << "java is now one of the server's metrics: wait for it";
  const Assembled next = add(a, without_java(kT0 + 60'000, 60));
  ASSERT_FALSE(next.batch.records.empty());
  EXPECT_EQ(next.batch.records[0].timestamp, kT0 + 45'000);
  EXPECT_EQ(next.batch.records[0].values[static_cast<int>(Metric::java_cpu_pct)], 30.0 + 4);
  EXPECT_EQ(next.batch.records[0].values[static_cast<int>(Metric::mem_used_pct)], 50.0 + 5);
}

TEST(RemoteWriteAssembler, UnknownSeriesAreCountedNotErrors) {
  RemoteWriteAssembler a;
  const Assembled r = add(a, {WireSeries{{{"__name__", "node_load1"}, {"instance", "web1:9100"}}, {{1, kT0}, {2, kT0 + 1}}},
                              WireSeries{{{"__name__", "nordiq:not_a_metric"}, {"instance", "web1:9100"}}, {{1, kT0}}}});
  EXPECT_EQ(r.counts.unknown_series, 2u);
  EXPECT_EQ(r.counts.samples, 3u);
  EXPECT_EQ(r.counts.used + r.counts.rejected, 0u);
  EXPECT_EQ(a.servers(), 0u);
}

TEST(RemoteWriteAssembler, NordiqServerLabelWinsOverInstance) {
  RemoteWriteAssembler a;
  auto series = all_metrics("ignored", kT0);
  for (auto& s : series) s.labels.emplace_back("nordiq_server", "ppdb001");
  add(a, series);
  EXPECT_EQ(a.servers(), 1u);
  auto next = all_metrics("ignored", kT0 + 1000);
  for (auto& s : next) s.labels.emplace_back("nordiq_server", "ppdb001");
  const Assembled r = add(a, next);
  ASSERT_EQ(r.batch.records.size(), 2u);
  EXPECT_EQ(r.batch.name(r.batch.records[0]), "ppdb001");
}

TEST(RemoteWriteAssembler, ConfiguredServerLabelIsUsed) {
  RemoteWriteAssembler a(RemoteWriteOptions{.server_label = "host"});
  auto s = nordiq_series("cpu_user_pct", "x", 5, kT0);
  s.labels.emplace_back("host", "db7");
  add(a, {s});
  s.samples = {{6, kT0 + 1000}};
  const Assembled r = add(a, {s});
  ASSERT_EQ(r.batch.records.size(), 2u);
  EXPECT_EQ(r.batch.name(r.batch.records[1]), "db7");
}

TEST(RemoteWriteAssembler, InvalidServerNameIsRejectedNamingTheLabel) {
  RemoteWriteAssembler a;
  const Assembled r = add(a, {WireSeries{{{"__name__", "nordiq:cpu_user_pct"}, {"instance", "web 1/x:9100"}}, {{1, kT0}}},
                              WireSeries{{{"__name__", "nordiq:cpu_user_pct"}}, {{1, kT0}}}});
  EXPECT_EQ(r.counts.rejected, 2u);
  EXPECT_NE(r.counts.first_rejection.find("label instance=\"web 1/x\""), std::string::npos) << r.counts.first_rejection;
}

TEST(RemoteWriteAssembler, ValuesOutsideTheContractAreRejectedSmallOvershootClamped) {
  RemoteWriteAssembler a;
  const Assembled r = add(a, {nordiq_series("cpu_user_pct", "web1", 100.4, kT0),
                              nordiq_series("mem_used_pct", "web1", 180, kT0),
                              nordiq_series("net_in_mb_s", "web1", -5, kT0),
                              nordiq_series("load_average", "web1", std::numeric_limits<double>::infinity(), kT0)});
  EXPECT_EQ(r.counts.used, 1u);
  EXPECT_EQ(r.counts.rejected, 3u);
  EXPECT_NE(r.counts.first_rejection.find("nordiq:mem_used_pct of web1: 180 is outside 0..100"), std::string::npos)
      << r.counts.first_rejection;
  const Assembled next = add(a, {nordiq_series("cpu_user_pct", "web1", 3, kT0 + 1000)});
  ASSERT_EQ(next.batch.records.size(), 2u);
  EXPECT_EQ(next.batch.records[0].values[0], 100.0);
}

TEST(RemoteWriteAssembler, StaleMarkersAndFutureSamplesAreNotRecords) {
  RemoteWriteAssembler a;
  const Assembled r = add(a, {nordiq_series("cpu_user_pct", "web1", std::nan(""), kT0),
                              nordiq_series("cpu_sys_pct", "web1", 1, kNow + 6 * 60'000)});
  EXPECT_EQ(r.counts.stale, 1u);
  EXPECT_EQ(r.counts.rejected, 1u);
  EXPECT_NE(r.counts.first_rejection.find("future"), std::string::npos);
  EXPECT_EQ(a.pending(), 0u);
}

TEST(RemoteWriteAssembler, SamplesOfAStoredTimestampAreLate) {
  RemoteWriteAssembler a;
  add(a, all_metrics("web1", kT0));
  add(a, all_metrics("web1", kT0 + 15'000));
  const Assembled again = add(a, all_metrics("web1", kT0 + 15'000));  // Prometheus resending after a timeout
  EXPECT_EQ(again.counts.late, static_cast<size_t>(kNumMetrics));
  EXPECT_TRUE(again.batch.records.empty());
}

TEST(RemoteWriteAssembler, PartialTimestampIsCompletedAfterTheHold) {
  RemoteWriteAssembler a(RemoteWriteOptions{.hold_ms = 10'000});
  add(a, all_metrics("web1", kT0));
  add(a, all_metrics("web1", kT0 + 15'000));
  add(a, {nordiq_series("cpu_user_pct", "web1", 77, kT0 + 30'000)});
  EXPECT_EQ(a.pending(), 1u);
  FeedBatch early, late;
  a.complete_expired(kNow + 5'000, early);
  EXPECT_TRUE(early.records.empty());
  a.complete_expired(kNow + 10'000, late);
  ASSERT_EQ(late.records.size(), 1u);
  EXPECT_EQ(late.records[0].values[0], 77.0);
  EXPECT_EQ(late.records[0].values[1], 2.0) << "cpu_sys_pct carried forward from the record before";
}

TEST(RemoteWriteAssembler, RequeuedRecordsAreStoredWhenTheRequestIsRetried) {
  RemoteWriteAssembler a;
  add(a, all_metrics("web1", kT0));
  const Assembled failed = add(a, all_metrics("web1", kT0 + 15'000));
  ASSERT_EQ(failed.batch.records.size(), 2u);
  a.requeue(failed.batch);  // the store refused them
  EXPECT_EQ(a.pending(), 2u);
  const Assembled retried = add(a, all_metrics("web1", kT0 + 15'000));
  EXPECT_EQ(retried.counts.late, 0u);
  ASSERT_EQ(retried.batch.records.size(), 2u);
  EXPECT_EQ(retried.batch.records[0].timestamp, kT0);
  EXPECT_EQ(retried.batch.records[1].timestamp, kT0 + 15'000);
}

TEST(RemoteWriteAssembler, CompleteAllEmptiesEveryWaitingTimestamp) {
  RemoteWriteAssembler a;
  add(a, all_metrics("web1", kT0));
  add(a, all_metrics("web2", kT0));
  FeedBatch batch;
  a.complete_all(batch);
  EXPECT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(a.pending(), 0u);
}

TEST(RemoteWriteAssembler, ServersBeyondTheLimitAreRejected) {
  RemoteWriteAssembler a(RemoteWriteOptions{.max_servers = 1});
  const Assembled r = add(a, {nordiq_series("cpu_user_pct", "web1", 1, kT0), nordiq_series("cpu_user_pct", "web2", 1, kT0)});
  EXPECT_EQ(r.counts.used, 1u);
  EXPECT_EQ(r.counts.rejected, 1u);
  EXPECT_NE(r.counts.first_rejection.find("limit of 1 servers"), std::string::npos);
}

TEST(RemoteWriteAssembler, CpuIdleThatNeverCameIsWhatTheOtherModesLeaveNeverASaturatedCpu) {
  RemoteWriteAssembler a;
  // Prometheus just started: rate() has no second scrape yet, only gauges arrive.
  add(a, {nordiq_series("mem_used_pct", "web1", 40, kT0)});
  const Assembled r = add(a, {nordiq_series("mem_used_pct", "web1", 41, kT0 + 5000), nordiq_series("cpu_user_pct", "web1", 30, kT0 + 5000),
                              nordiq_series("cpu_sys_pct", "web1", 10, kT0 + 5000)});
  ASSERT_EQ(r.batch.records.size(), 2u);
  EXPECT_EQ(r.batch.records[0].values[static_cast<int>(Metric::cpu_idle_pct)], 100.0) << "no CPU mode came";
  EXPECT_EQ(r.batch.records[1].values[static_cast<int>(Metric::cpu_idle_pct)], 60.0) << "user 30 + sys 10 came";
}

}  // namespace
}  // namespace nordiq
