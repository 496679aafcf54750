// POST /feed/data bodies: any bytes parse into valid records and per-record errors, or a clean
// malformed/too-many status; never a crash, a hang or a record outside the contract.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/feed_parser.hpp"

using namespace nordiq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FeedParser parser(FeedLimits{.max_records = 1000});
  static FeedBatch batch;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const FeedParseResult result = parser.parse(body, /*now=*/1'760'000'000'000, batch);
  if (result.status != FeedParseStatus::ok) return 0;
  if (batch.records.size() + batch.rejected > batch.total) std::abort();
  for (const FeedRecord& r : batch.records) {
    if (!valid_server_name(batch.name(r))) std::abort();
    for (int k = 0; k < kNumMetrics; ++k)
      if (!(r.values[k] >= kMetrics[k].min && r.values[k] <= kMetrics[k].max)) std::abort();
  }
  return 0;
}
