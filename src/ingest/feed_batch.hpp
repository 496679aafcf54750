// The result of parsing one `POST /feed/data` body (SPEC §1.2): the valid records in a compact,
// reused form (metric values by index in `kMetrics` order, names in one shared arena) and one
// error per invalid field. A FeedBatch is meant to be kept and reused across requests: clear()
// keeps every buffer's capacity, so a warmed-up batch parses without allocating per record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace nordiq {

struct FeedRecord {
  EpochMs timestamp = 0;
  uint32_t index = 0;         // position in the request's "records" array
  uint32_t name_offset = 0;   // server name = FeedBatch::names.substr(name_offset, name_length)
  uint32_t name_length = 0;
  Status status = Status::healthy;
  int8_t profile = -1;        // explicit `profile` override (Profile value) or -1 = from the name
  double values[kNumMetrics] = {};  // raw values, kMetrics order
};

// One problem with one record, reported as {"index": i, "field": f, "error": e}.
struct RecordError {
  uint32_t index = 0;
  std::string field;
  std::string error;
};

struct FeedBatch {
  std::vector<FeedRecord> records;  // valid records, in request order
  std::vector<RecordError> errors;  // sorted by index (several per record are possible)
  std::string names;                // arena of the valid records' server names
  size_t total = 0;                 // number of elements in "records"
  size_t rejected = 0;              // number of distinct records with at least one error

  // Appends a valid record built in code (not parsed): the simulator's `--out store` and the
  // alert replay feed the store this way. Its values are left for the caller to fill.
  FeedRecord& append(std::string_view server, EpochMs timestamp, Status status, int8_t profile) {
    FeedRecord& r = records.emplace_back();
    r.timestamp = timestamp;
    r.index = static_cast<uint32_t>(total++);
    r.name_offset = static_cast<uint32_t>(names.size());
    r.name_length = static_cast<uint32_t>(server.size());
    names += server;
    r.status = status;
    r.profile = profile;
    return r;
  }
  std::string_view name(const FeedRecord& r) const {
    return std::string_view(names).substr(r.name_offset, r.name_length);
  }
  void clear() {
    records.clear();
    errors.clear();
    names.clear();
    total = 0;
    rejected = 0;
  }
};

}  // namespace nordiq
