// Validation of POST /feed/data bodies (SPEC §1.1, §1.2): every field's error, partial
// acceptance, whole-body errors, limits, and reuse of the parser/batch across requests.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "core/time.hpp"
#include "ingest/feed_parser.hpp"

namespace nordiq {
namespace {

const EpochMs kNow = *parse_iso8601("2025-01-15T12:00:00Z");

// A valid record as a field → raw JSON value map, so a test can replace or drop one field.
std::map<std::string, std::string> valid_fields() {
  return {{"timestamp", "\"2025-01-15T11:59:00Z\""}, {"server_name", "\"ppdb001\""},
          {"status", "\"healthy\""}, {"cpu_user_pct", "12.5"}, {"cpu_sys_pct", "3"},
          {"cpu_iowait_pct", "0.5"}, {"cpu_idle_pct", "84"}, {"java_cpu_pct", "10"},
          {"mem_used_pct", "61.25"}, {"swap_used_pct", "0"}, {"disk_usage_pct", "40"},
          {"net_in_mb_s", "1.5"}, {"net_out_mb_s", "2.5"}, {"back_close_wait", "3"},
          {"front_close_wait", "0"}, {"load_average", "1.25"}, {"uptime_days", "12"}};
}

std::string record_json(const std::map<std::string, std::string>& fields) {
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    if (out.size() > 1) out += ",";
    out += "\"" + k + "\":" + v;
  }
  return out + "}";
}

std::string body_of(const std::vector<std::string>& records) {
  std::string out = "{\"records\":[";
  for (size_t i = 0; i < records.size(); ++i) out += (i ? "," : "") + records[i];
  return out + "]}";
}

struct ParsedOne {
  FeedParseResult result;
  FeedBatch batch;
};

ParsedOne parse_one(const std::map<std::string, std::string>& fields, FeedLimits limits = {}) {
  ParsedOne p;
  FeedParser parser(limits);
  p.result = parser.parse(body_of({record_json(fields)}), kNow, p.batch);
  return p;
}

// The single error of a one-record batch whose `field` was set to `raw`.
RecordError error_for(const std::string& field, const std::string& raw) {
  auto fields = valid_fields();
  fields[field] = raw;
  auto p = parse_one(fields);
  EXPECT_EQ(p.result.status, FeedParseStatus::ok);
  EXPECT_TRUE(p.batch.records.empty()) << field << "=" << raw << " was accepted";
  EXPECT_EQ(p.batch.rejected, 1u);
  if (p.batch.errors.size() != 1) {
    ADD_FAILURE() << "expected one error for " << field << "=" << raw << ", got " << p.batch.errors.size();
    return {};
  }
  EXPECT_EQ(p.batch.errors[0].index, 0u);
  EXPECT_EQ(p.batch.errors[0].field, field);
  return p.batch.errors[0];
}

TEST(FeedParser, ValidRecordKeepsEveryMetricByIndexAndTheServerName) {
  auto p = parse_one(valid_fields());
  ASSERT_EQ(p.result.status, FeedParseStatus::ok);
  ASSERT_EQ(p.batch.records.size(), 1u);
  EXPECT_TRUE(p.batch.errors.empty());
  const FeedRecord& r = p.batch.records[0];
  EXPECT_EQ(p.batch.name(r), "ppdb001");
  EXPECT_EQ(r.timestamp, kNow - 60'000);
  EXPECT_EQ(r.status, Status::healthy);
  EXPECT_EQ(r.profile, -1);
  EXPECT_DOUBLE_EQ(r.values[static_cast<int>(Metric::cpu_user_pct)], 12.5);
  EXPECT_DOUBLE_EQ(r.values[static_cast<int>(Metric::mem_used_pct)], 61.25);
  EXPECT_DOUBLE_EQ(r.values[static_cast<int>(Metric::net_out_mb_s)], 2.5);
  EXPECT_DOUBLE_EQ(r.values[static_cast<int>(Metric::back_close_wait)], 3);
  EXPECT_DOUBLE_EQ(r.values[static_cast<int>(Metric::uptime_days)], 12);
  EXPECT_EQ(p.batch.total, 1u);
}

TEST(FeedParser, UnknownFieldsAreIgnoredAndProfileOverridesTheName) {
  auto fields = valid_fields();
  fields["datacenter"] = "{\"rack\": [1, 2, {\"x\": null}]}";
  fields["profile"] = "\"ml_compute\"";
  auto p = parse_one(fields);
  ASSERT_EQ(p.batch.records.size(), 1u);
  EXPECT_EQ(p.batch.records[0].profile, static_cast<int8_t>(Profile::ml_compute));
  fields["profile"] = "null";
  EXPECT_EQ(parse_one(fields).batch.records.at(0).profile, -1);
}

TEST(FeedParser, PercentOutOfRangeIsReportedWithTheValue) {
  const auto e = error_for("mem_used_pct", "104.2");
  EXPECT_EQ(e.error, "must be between 0 and 100, got 104.2");
  EXPECT_EQ(error_for("cpu_idle_pct", "-0.5").error, "must be between 0 and 100, got -0.5");
}

TEST(FeedParser, UnboundedMetricsMustBeNonNegative) {
  EXPECT_EQ(error_for("net_in_mb_s", "-1").error, "must be >= 0, got -1");
  EXPECT_EQ(error_for("load_average", "-0.1").error, "must be >= 0, got -0.1");
  EXPECT_EQ(error_for("uptime_days", "3651").error, "must be between 0 and 3650, got 3651");
}

TEST(FeedParser, CloseWaitMustBeAnInteger) {
  EXPECT_EQ(error_for("back_close_wait", "2.5").error, "must be an integer, got 2.5");
  EXPECT_EQ(error_for("front_close_wait", "-3").error, "must be >= 0, got -3");
  auto fields = valid_fields();
  fields["front_close_wait"] = "7.0";  // an integral JSON number is an integer
  EXPECT_EQ(parse_one(fields).batch.records.size(), 1u);
}

TEST(FeedParser, BooleansStringsNullsAndNonFiniteNumbersAreInvalid) {
  EXPECT_EQ(error_for("cpu_user_pct", "true").error, "must be a number, got boolean");
  EXPECT_EQ(error_for("cpu_user_pct", "\"12\"").error, "must be a number, got string");
  EXPECT_EQ(error_for("cpu_user_pct", "null").error, "must be a number, got null");
  EXPECT_EQ(error_for("back_close_wait", "false").error, "must be an integer, got boolean");
  EXPECT_EQ(error_for("swap_used_pct", "NaN").error, "must be a finite number, got NaN");
  EXPECT_EQ(error_for("swap_used_pct", "Infinity").error, "must be a finite number, got Infinity");
  EXPECT_EQ(error_for("net_in_mb_s", "1e999").error, "must be a finite number, got 1e999");
  EXPECT_EQ(error_for("net_in_mb_s", "[1]").error, "must be a number, got array");
}

TEST(FeedParser, MissingFieldsAreEachRequired) {
  auto fields = valid_fields();
  fields.erase("disk_usage_pct");
  fields.erase("timestamp");
  auto p = parse_one(fields);
  ASSERT_EQ(p.batch.errors.size(), 2u);
  EXPECT_EQ(p.batch.rejected, 1u);
  std::set<std::string> missing;
  for (const auto& e : p.batch.errors) {
    EXPECT_EQ(e.error, "is required");
    missing.insert(e.field);
  }
  EXPECT_EQ(missing, (std::set<std::string>{"disk_usage_pct", "timestamp"}));
}

TEST(FeedParser, StatusProfileAndServerNameAreChecked) {
  EXPECT_NE(error_for("status", "\"on_fire\"").error.find("must be one of"), std::string::npos);
  EXPECT_EQ(error_for("status", "3").error, "must be a string, got number");
  EXPECT_NE(error_for("profile", "\"gpu\"").error.find("must be one of conductor_mgmt"), std::string::npos);
  EXPECT_NE(error_for("server_name", "\"web 01\"").error.find("must match"), std::string::npos);
  EXPECT_NE(error_for("server_name", "\"\"").error.find("must match"), std::string::npos);
  EXPECT_NE(error_for("server_name", "\"" + std::string(129, 'a') + "\"").error.find("must match"),
            std::string::npos);
  auto fields = valid_fields();
  fields["server_name"] = "\"" + std::string(128, 'a') + "\"";
  EXPECT_EQ(parse_one(fields).batch.records.size(), 1u);
}

TEST(FeedParser, TimestampsMustBeIsoAndNotMoreThanFiveMinutesAhead) {
  EXPECT_NE(error_for("timestamp", "\"yesterday\"").error.find("ISO-8601"), std::string::npos);
  EXPECT_NE(error_for("timestamp", "\"2025-02-30T00:00:00\"").error.find("ISO-8601"), std::string::npos);
  EXPECT_NE(error_for("timestamp", "1736942400").error.find("must be a string"), std::string::npos);
  EXPECT_NE(error_for("timestamp", "\"2025-01-15T12:05:01Z\"").error.find("future"), std::string::npos);
  auto fields = valid_fields();
  fields["timestamp"] = "\"2025-01-15T14:04:59.5+02:00\"";  // 12:04:59.5Z: inside the 5 min
  auto p = parse_one(fields);
  ASSERT_EQ(p.batch.records.size(), 1u);
  EXPECT_EQ(p.batch.records[0].timestamp, kNow + 299'500);
}

TEST(FeedParser, TimestampsOlderThanTheRetentionAreRejectedWhenConfigured) {
  FeedLimits limits;
  limits.max_age_ms = 86'400'000;
  auto fields = valid_fields();
  fields["timestamp"] = "\"2025-01-14T11:59:59Z\"";
  auto p = parse_one(fields, limits);
  ASSERT_EQ(p.batch.errors.size(), 1u);
  EXPECT_NE(p.batch.errors[0].error.find("retention"), std::string::npos);
}

TEST(FeedParser, InvalidRecordsAreReportedByIndexWhileValidOnesAreKept) {
  auto bad = valid_fields();
  bad["mem_used_pct"] = "104.2";
  auto other = valid_fields();
  other["server_name"] = "\"web01\"";
  FeedParser parser;
  FeedBatch batch;
  auto r = parser.parse(body_of({record_json(valid_fields()), record_json(bad), "42",
                                 record_json(other)}),
                        kNow, batch);
  ASSERT_EQ(r.status, FeedParseStatus::ok);
  EXPECT_EQ(batch.total, 4u);
  EXPECT_EQ(batch.rejected, 2u);
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].index, 0u);
  EXPECT_EQ(batch.records[1].index, 3u);
  EXPECT_EQ(batch.name(batch.records[1]), "web01");
  ASSERT_EQ(batch.errors.size(), 2u);
  EXPECT_EQ(batch.errors[0].index, 1u);
  EXPECT_EQ(batch.errors[0].field, "mem_used_pct");
  EXPECT_EQ(batch.errors[1].index, 2u);
  EXPECT_EQ(batch.errors[1].field, "record");
}

TEST(FeedParser, MalformedBodiesAreWholeRequestErrors) {
  FeedParser parser;
  FeedBatch batch;
  for (const char* body : {"", "not json", "[]", "{\"records\": {}}", "{\"recs\": []}",
                           "{\"records\": [", "{\"records\": [{\"a\":1}", "{\"records\": []} x",
                           "{\"records\": [] , \"records\": []}", "\"records\""}) {
    auto r = parser.parse(body, kNow, batch);
    EXPECT_EQ(r.status, FeedParseStatus::malformed) << body;
    EXPECT_FALSE(r.message.empty()) << body;
  }
  EXPECT_EQ(parser.parse("{\"records\": [], \"source\": \"x\"}", kNow, batch).status, FeedParseStatus::ok);
  EXPECT_EQ(batch.total, 0u);
}

TEST(FeedParser, MoreRecordsThanTheLimitIsTooMany) {
  FeedLimits limits;
  limits.max_records = 2;
  FeedParser parser(limits);
  FeedBatch batch;
  const std::string rec = record_json(valid_fields());
  EXPECT_EQ(parser.parse(body_of({rec, rec}), kNow, batch).status, FeedParseStatus::ok);
  EXPECT_EQ(parser.parse(body_of({rec, rec, rec}), kNow, batch).status, FeedParseStatus::too_many_records);
}

TEST(FeedParser, ReusedBatchHoldsOnlyTheLatestRequest) {
  FeedParser parser;
  FeedBatch batch;
  auto a = valid_fields();
  a["server_name"] = "\"alpha01\"";
  auto b = valid_fields();
  b["server_name"] = "\"b2\"";
  b["cpu_user_pct"] = "99";
  ASSERT_EQ(parser.parse(body_of({record_json(a), record_json(a), "1"}), kNow, batch).status, FeedParseStatus::ok);
  ASSERT_EQ(parser.parse(body_of({record_json(b)}), kNow, batch).status, FeedParseStatus::ok);
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_TRUE(batch.errors.empty());
  EXPECT_EQ(batch.rejected, 0u);
  EXPECT_EQ(batch.name(batch.records[0]), "b2");
  EXPECT_DOUBLE_EQ(batch.records[0].values[0], 99);
}

TEST(FeedParser, EscapedStringsAreUnescaped) {
  auto fields = valid_fields();
  fields["server_name"] = "\"web\\u002d01\"";  // "web-01"
  auto p = parse_one(fields);
  ASSERT_EQ(p.batch.records.size(), 1u);
  EXPECT_EQ(p.batch.name(p.batch.records[0]), "web-01");
}

TEST(FeedParser, ThousandsOfBadRecordsReportTheFirstHundredErrorsAndCountTheRestByFieldAndKind) {
  std::vector<std::string> records(5000, "{}");
  auto fields = valid_fields();
  fields["mem_used_pct"] = "101";
  records[4999] = record_json(fields);  // one more kind of error, at the end
  FeedParser parser;
  FeedBatch batch;
  ASSERT_EQ(parser.parse(body_of(records), kNow, batch).status, FeedParseStatus::ok);
  const size_t required = kNumMetrics + 3;  // the metrics, timestamp, server_name, status
  EXPECT_EQ(batch.rejected, 5000u);
  EXPECT_EQ(batch.error_count, 4999 * required + 1);
  ASSERT_EQ(batch.errors.size(), FeedBatch::kMaxReportedErrors);
  EXPECT_EQ(batch.errors.front().index, 0u);
  EXPECT_EQ(batch.errors.back().index, (FeedBatch::kMaxReportedErrors - 1) / required);
  std::map<std::pair<std::string, std::string>, size_t> tally;
  for (const ErrorTally& t : batch.tally) tally[{std::string(t.field), std::string(t.kind)}] = t.count;
  EXPECT_EQ(tally.size(), required + 1);
  EXPECT_EQ((tally[{"timestamp", "required"}]), 4999u);
  EXPECT_EQ((tally[{"mem_used_pct", "required"}]), 4999u);
  EXPECT_EQ((tally[{"mem_used_pct", "out_of_range"}]), 1u);
  // The next parse starts from nothing.
  ASSERT_EQ(parser.parse(body_of({record_json(valid_fields())}), kNow, batch).status, FeedParseStatus::ok);
  EXPECT_EQ(batch.error_count, 0u);
  EXPECT_TRUE(batch.tally.empty());
}

TEST(FeedParser, MalformedJsonInsideIgnoredFieldsIsA400LikeAnyOtherMalformedBody) {
  FeedParser parser;
  FeedBatch batch;
  const std::string record = record_json(valid_fields());
  const std::string with_junk = record.substr(0, record.size() - 1);  // without the closing brace
  for (const std::string& junk : {std::string("tru"), std::string("[1,2,,3]"), std::string("{\"a\": nul}"),
                                  std::string("[[[[1e]]]]"), std::string("\"unterminated")}) {
    const auto r = parser.parse(body_of({with_junk + ",\"junk\":" + junk + "}"}), kNow, batch);
    EXPECT_EQ(r.status, FeedParseStatus::malformed) << junk;
    EXPECT_NE(r.message.find("invalid JSON"), std::string::npos) << r.message;
    // Named where the structure is found broken while walking it (an unterminated string breaks
    // the whole body's structure before any field is read).
    if (junk[0] != '"') {
      EXPECT_NE(r.message.find("\"junk\""), std::string::npos) << r.message;
    }
    const auto top = parser.parse("{\"meta\":" + junk + ",\"records\":[" + record + "]}", kNow, batch);
    EXPECT_EQ(top.status, FeedParseStatus::malformed) << junk;
  }
  // Well-formed ignored values are still ignored.
  const auto ok = parser.parse(
      "{\"meta\":{\"a\":[1,\"x\",null,true,{}]},\"records\":[" + with_junk + ",\"junk\":[1,{\"b\":false},-2.5e3]}]}",
      kNow, batch);
  ASSERT_EQ(ok.status, FeedParseStatus::ok) << ok.message;
  EXPECT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.error_count, 0u);
}

}  // namespace
}  // namespace nordiq
