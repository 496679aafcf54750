// POST /api/v1/write: the Prometheus remote_write 1.0 receiver (ingest key, as Bearer
// credentials or basic auth). Decodes (ingest/remote_write_decoder), assembles series into
// records (ingest/remote_write_assembler) and stores them like `POST /feed/data`.
//
// Answers as Prometheus expects: 204 once the complete records are stored; 400 for a body it must
// not retry (not snappy, not a WriteRequest, or no usable sample, with the reason); 413 above the
// size limit; 503 when the store failed, which Prometheus retries. Unknown series are ignored and
// counted in GET /metrics (nordiq_remote_write_samples_total{outcome="unknown_series"}).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "api/serve_context.hpp"
#include "ingest/remote_write_assembler.hpp"

namespace nordiq::api {

// Process-wide counters, rendered by GET /metrics.
struct RemoteWriteStats {
  static constexpr std::array<std::string_view, 6> kOutcomes = {"used", "unknown_series", "stale", "late",
                                                                "rejected", "not_stored"};
  std::atomic<uint64_t> requests_ok{0}, requests_bad{0}, requests_failed{0};
  std::array<std::atomic<uint64_t>, kOutcomes.size()> samples{};
  std::atomic<uint64_t> records{0};
  std::atomic<uint64_t> pending{0};  // (server, timestamp) waiting for the rest of their series
};
RemoteWriteStats& remote_write_stats();

void add_remote_write_routes(ServeContext& ctx, const RemoteWriteOptions& options);

}  // namespace nordiq::api
