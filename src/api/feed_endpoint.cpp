#include "api/feed_endpoint.hpp"

#include "core/latency_histogram.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace nordiq::api {

namespace {

// Parser and batch live per HTTP worker thread and are reused: a warmed-up thread parses a
// batch without allocating per record. Parsing runs in parallel; FleetStore serialises storing.
struct FeedScratch {
  FeedParser parser;
  FeedBatch batch;
};

// A thread keeps its scratch warm for typical batches, but a huge one (up to the record limit)
// must not pin its memory for the thread's lifetime: released when the request is done.
constexpr size_t kKeptRecords = 4096;
constexpr size_t kKeptBodyBytes = 4 << 20;
struct ReleaseIfOversized {
  FeedScratch& scratch;
  ~ReleaseIfOversized() {
    if (scratch.batch.records.capacity() > kKeptRecords || scratch.batch.names.capacity() > kKeptRecords * 32)
      scratch.batch = FeedBatch{};
    scratch.parser.release_buffers_above(kKeptBodyBytes);
  }
};

}  // namespace

void add_feed_routes(ApiServer& api, FleetStore& store, const FeedLimits& limits) {
  api.post("/feed/data", Role::ingest, [&store, limits](const httplib::Request& req, httplib::Response& res) {
    const LatencyTimer timer(ingest_latency_histogram());  // for GET /metrics
    thread_local FeedScratch scratch;
    const ReleaseIfOversized release{scratch};
    scratch.parser.set_limits(limits);
    FeedBatch& batch = scratch.batch;
    const FeedParseResult parsed = scratch.parser.parse(req.body, now_ms(), batch);
    switch (parsed.status) {
      case FeedParseStatus::malformed:
        return ApiServer::send_error(res, 400, "invalid_body", parsed.message);
      case FeedParseStatus::too_many_records:
        return ApiServer::send_error(res, 413, "too_many_records", parsed.message);
      case FeedParseStatus::ok: break;
    }

    IngestOutcome outcome;
    try {
      outcome = store.ingest(batch);
    } catch (const StoreError& e) {
      spdlog::error("feed: storing {} records failed: {}", batch.records.size(), e.what());
      return ApiServer::send_store_unavailable(res, e, "records");
    }

    const size_t tracked = store.windows().server_count();
    const size_t ready = store.windows().ready_count();
    nlohmann::json rejected = nlohmann::json::array();
    for (const RecordError& e : batch.errors)
      rejected.push_back({{"index", e.index}, {"field", e.field}, {"error", e.error}});
    nlohmann::json by_field = nlohmann::json::array();
    for (const ErrorTally& t : batch.tally) by_field.push_back({{"field", t.field}, {"error", t.kind}, {"count", t.count}});
    // A retried batch (all duplicates) is a success: the records are stored.
    const bool ok = batch.total == 0 || outcome.accepted + outcome.duplicates > 0;
    nlohmann::json body = {{"status", ok ? "accepted" : "rejected"},
                           {"accepted", outcome.accepted},
                           {"duplicates", outcome.duplicates},
                           {"rejected", std::move(rejected)},
                           {"rejected_records", batch.rejected},
                           {"errors_total", batch.error_count},
                           {"errors_by_field", std::move(by_field)},
                           {"servers_tracked", tracked},
                           {"servers_ready", ready},
                           {"warmup_complete", tracked > 0 && ready == tracked}};
    if (!ok) {
      body["error"] = "no_valid_records";
      body["message"] = fmt::format("none of the {} records was accepted", batch.total);
    }
    ApiServer::send_json(res, ok ? 200 : 422, body);
  });
}

}  // namespace nordiq::api
