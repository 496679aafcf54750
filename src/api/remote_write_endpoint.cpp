#include "api/remote_write_endpoint.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "core/latency_histogram.hpp"

namespace nordiq::api {

namespace {

enum Outcome { kUsed, kUnknown, kStale, kLate, kRejected, kNotStored };

void count(RemoteWriteStats& stats, const RemoteWriteCounts& c) {
  stats.samples[kUsed] += c.used;
  stats.samples[kUnknown] += c.samples - c.used - c.stale - c.late - c.rejected;  // every sample of an unknown series
  stats.samples[kStale] += c.stale;
  stats.samples[kLate] += c.late;
  stats.samples[kRejected] += c.rejected;
}

// Stores what the assembler completed; on a store failure the records wait again in the
// assembler (the retried request brings their samples back) and the StoreError is rethrown, so
// the caller can say why. Call with the assembler locked.
void store_completed(FleetStore& store, RemoteWriteAssembler& assembler, FeedBatch& batch) {
  if (batch.records.empty()) return;
  try {
    store.ingest(batch);
  } catch (const StoreError& e) {
    spdlog::error("remote_write: storing {} records failed: {}", batch.records.size(), e.what());
    assembler.requeue(batch);
    throw;
  }
  RemoteWriteStats& stats = remote_write_stats();
  stats.records += batch.records.size() - batch.rejected;
  stats.samples[kNotStored] += batch.rejected;  // e.g. over the server limit: named in the log
  if (!batch.errors.empty())
    spdlog::warn("remote_write: {} records not stored, first: {}", batch.rejected, batch.errors.front().error);
}

struct Scratch {
  RemoteWriteRequest request;
  FeedBatch batch;
};

}  // namespace

RemoteWriteStats& remote_write_stats() {
  static RemoteWriteStats stats;
  return stats;
}

void add_remote_write_routes(ServeContext& ctx, const RemoteWriteOptions& options) {
  auto assembler = std::make_shared<RemoteWriteAssembler>(options);
  FleetStore& store = ctx.store;
  const size_t max_bytes = ctx.options.http.max_body_bytes;
  ctx.api.post("/api/v1/write", Role::ingest, [&store, assembler, max_bytes](const httplib::Request& req,
                                                                             httplib::Response& res) {
    const LatencyTimer timer(ingest_latency_histogram());
    RemoteWriteStats& stats = remote_write_stats();
    thread_local Scratch scratch;
    const auto decoded = decode_remote_write(req.body, max_bytes, scratch.request);
    if (decoded.status != RemoteWriteDecodeStatus::ok) {
      ++stats.requests_bad;
      const bool too_large = decoded.status == RemoteWriteDecodeStatus::too_large;
      return ApiServer::send_error(res, too_large ? 413 : 400, too_large ? "body_too_large" : "invalid_body",
                                   decoded.message);
    }
    RemoteWriteCounts counts;
    {
      std::lock_guard lock(assembler->mutex());
      scratch.batch.clear();
      counts = assembler->add(scratch.request, now_ms(), scratch.batch);
      stats.pending = assembler->pending();
      try {
        store_completed(store, *assembler, scratch.batch);
      } catch (const StoreError& e) {
        ++stats.requests_failed;
        return ApiServer::send_store_unavailable(res, e, "samples");
      }
    }
    count(stats, counts);
    // Nothing usable and something wrong: say why, and stop Prometheus from resending it.
    if (counts.rejected > 0 && counts.used == 0 && counts.late == 0) {
      ++stats.requests_bad;
      return ApiServer::send_error(res, 400, "invalid_samples",
                                   fmt::format("none of the {} nordiq samples is usable: {}", counts.rejected,
                                               counts.first_rejection));
    }
    ++stats.requests_ok;
    res.status = 204;
  });
  // What still waits for the rest of its series is stored before the store closes.
  ctx.on_shutdown.push_back([&store, assembler] {
    std::lock_guard lock(assembler->mutex());
    FeedBatch batch;
    assembler->complete_all(batch);
    if (batch.records.empty()) return;
    try {
      store_completed(store, *assembler, batch);
      spdlog::info("remote_write: stored {} waiting records at shutdown", batch.records.size());
    } catch (const StoreError&) {  // logged by store_completed; nothing more can be done now
    }
  });
}

}  // namespace nordiq::api
