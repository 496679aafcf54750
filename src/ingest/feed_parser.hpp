// Parses and validates `POST /feed/data` bodies (SPEC §1.1, §1.2) with simdjson's on-demand API.
// One FeedParser per thread (it owns the simdjson parser and a padded copy buffer, both reused);
// the hot path allocates nothing per record once the buffers have grown to the batch size.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "ingest/feed_batch.hpp"

namespace nordiq {

struct FeedLimits {
  size_t max_records = 100'000;        // per request → 413 above
  size_t max_name_length = 128;        // server_name length
  int64_t max_future_ms = 5 * 60'000;  // timestamps at most this far ahead of `now`
  int64_t max_age_ms = 0;              // > 0: timestamps older than now - max_age_ms are rejected
};

enum class FeedParseStatus {
  ok,             // batch filled (possibly with per-record errors)
  malformed,      // not JSON, or not {"records": [...]} → 400
  too_many_records  // more than FeedLimits::max_records → 413
};

struct FeedParseResult {
  FeedParseStatus status = FeedParseStatus::ok;
  std::string message;  // why, when status != ok
};

class FeedParser {
 public:
  explicit FeedParser(FeedLimits limits = {});
  ~FeedParser();
  FeedParser(const FeedParser&) = delete;
  FeedParser& operator=(const FeedParser&) = delete;

  // Clears `out` and fills it from `body`. `now` is the reference for the future/age checks.
  FeedParseResult parse(std::string_view body, EpochMs now, FeedBatch& out);

  // Frees the body copy and simdjson's buffers when they grew past `keep_bytes` (one huge body
  // must not pin its memory in a thread for good); the next parse grows them again as needed.
  void release_buffers_above(size_t keep_bytes);

  const FeedLimits& limits() const { return limits_; }
  void set_limits(const FeedLimits& limits) { limits_ = limits; }

 private:
  FeedLimits limits_;
  struct Json;  // the simdjson on-demand parser (kept out of this header)
  std::unique_ptr<Json> json_;
  std::unique_ptr<char[]> buffer_;  // padded copy of the body (simdjson reads past the end)
  size_t buffer_capacity_ = 0;
};

}  // namespace nordiq
