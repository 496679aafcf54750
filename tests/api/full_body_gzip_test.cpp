// The full GET /predictions/current gzip assembled from the servers' entries deflated ahead:
// it inflates to the plain body byte for byte, whichever servers have their entry deflated, and
// a body that is not laid out as the snapshot still comes back whole.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api/full_body_gzip.hpp"
#include "api/predictions_json.hpp"
#include "gunzip.hpp"

namespace nordiq::api {
namespace {

using test_support::gunzip;

const std::string kNames[] = {"db01", "ml02", "web03", "web04"};

// A snapshot of four servers with rendered fragments; `deflated[i]`: server i has its entry made.
std::shared_ptr<serve::PredictionSnapshot> snapshot(std::array<bool, 4> deflated) {
  auto snap = std::make_shared<serve::PredictionSnapshot>();
  for (ServerId id = 0; id < 4; ++id) {
    auto sf = std::make_shared<serve::ServerForecast>();
    sf->id = id;
    sf->name = kNames[id];
    sf->steps = 300;
    sf->last_step = 1'800'000'000'000;
    sf->step_ms = 300'000;
    sf->horizon = 96;
    std::vector<float> values(size_t{kNumMetrics} * forecast::kNumQuantiles * 96);
    for (size_t i = 0; i < values.size(); ++i) values[i] = float((i * 37 + id * 11) % 1000) / 7.f;
    sf->own_values(values);
    render_server_fragments(*sf);
    if (deflated[id]) deflate_full_body_entry(*sf);
    snap->by_id.push_back(std::move(sf));
    snap->order.push_back(id);
  }
  return snap;
}

// The full body's layout (predictions_endpoint.cpp, render_current), entries from `snap`.
std::string plain_body(const serve::PredictionSnapshot& snap) {
  std::string body = R"({"timestamp":"2027-01-15T08:00:00Z","model":{"name":"x"},"predictions":{)";
  for (size_t i = 0; i < snap.order.size(); ++i) {
    if (i) body += ',';
    append_server_entry(body, *snap.find(snap.order[i]), MetricMask().set(), default_quantiles());
  }
  return body + R"(},"page":{"next":null},"summary":{},"alerts":[{"server":"db01"}]})";
}

TEST(FullBodyGzip, InflatesToThePlainBodyWhicheverEntriesWereDeflatedAhead) {
  for (const auto deflated : {std::array{true, true, true, true}, std::array{false, false, false, false},
                              std::array{true, false, false, true}, std::array{false, true, true, false}}) {
    const auto snap = snapshot(deflated);
    const std::string plain = plain_body(*snap);
    const std::string gz = gzip_full_body(plain, *snap);
    EXPECT_EQ(gunzip(gz), plain);
    EXPECT_LT(gz.size(), plain.size() / 3);
  }
  EXPECT_FALSE(snapshot({true, true, true, true})->find(2)->gzip_entry.empty());
  EXPECT_TRUE(snapshot({true, true, false, true})->find(2)->gzip_entry.empty());
}

TEST(FullBodyGzip, ABodyNotLaidOutAsTheSnapshotIsStillGzippedWhole) {
  const auto snap = snapshot({true, true, true, true});
  const auto other = snapshot({true, true, true, true});
  other->by_id.pop_back();  // a body of three servers
  other->order.pop_back();
  for (const std::string& plain : {plain_body(*other), std::string(R"({"error":"no predictions"})")})
    EXPECT_EQ(gunzip(gzip_full_body(plain, *snap)), plain);
}

}  // namespace
}  // namespace nordiq::api
