// Builds POST /feed/data bodies for e2e tests: deterministic, exactly representable values
// (multiples of 1/8) so a test can compare what the daemon stored bit for bit.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace nordiq::e2e {

struct TestRecord {
  std::string server;
  EpochMs timestamp = 0;
  std::string status = "healthy";
  double values[kNumMetrics] = {};
};

// Value of metric k for a record: within every metric's range, integral for close-wait.
inline double test_value(int seed, int k) {
  const double v = static_cast<double>((seed * 7 + k * 13) % 800) / 8.0;  // 0 .. 99.875
  return kMetrics[k].integer ? static_cast<double>(static_cast<int>(v)) : v;
}

inline TestRecord make_record(std::string server, EpochMs t, int seed) {
  TestRecord r;
  r.server = std::move(server);
  r.timestamp = t;
  for (int k = 0; k < kNumMetrics; ++k) r.values[k] = test_value(seed, k);
  return r;
}

inline std::string record_json(const TestRecord& r) {
  std::string out = fmt::format(R"({{"timestamp":"{}","server_name":"{}","status":"{}")",
                                format_iso8601(r.timestamp), r.server, r.status);
  for (int k = 0; k < kNumMetrics; ++k) out += fmt::format(R"(,"{}":{})", kMetrics[k].name, r.values[k]);
  return out + "}";
}

inline std::string feed_body(const std::vector<TestRecord>& records) {
  std::string out = R"({"records":[)";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) out += ',';  // not `(i ? "," : "") + json`: g++ 12 warns falsely (-Wrestrict) on that
    out += record_json(records[i]);
  }
  return out + "]}";
}

// A step-aligned time `steps_ago` steps of 300 s before now (always in the past).
inline EpochMs steps_ago(int steps) {
  constexpr int64_t kStep = 300'000;
  return (now_ms() / kStep - steps) * kStep;
}

}  // namespace nordiq::e2e
