// The result of parsing one `POST /feed/data` body (SPEC §1.2): the valid records in a compact,
// reused form (metric values by index in `kMetrics` order, names in one shared arena) and one
// error per invalid field. A FeedBatch is meant to be kept and reused across requests: clear()
// keeps every buffer's capacity, so a warmed-up batch parses without allocating per record.
#pragma once

#include <algorithm>
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

// How many errors of one kind one field had, over a whole batch. Both views point to static
// strings (field names, error kinds), so tallying allocates nothing per error.
struct ErrorTally {
  std::string_view field;
  std::string_view kind;
  size_t count = 0;
};

struct FeedBatch {
  // Errors reported in full: the first ones, by index; the rest are only counted (a body of
  // 100 000 bad records must not become a 100 MB response).
  static constexpr size_t kMaxReportedErrors = 100;

  std::vector<FeedRecord> records;  // valid records, in request order
  std::vector<RecordError> errors;  // the first kMaxReportedErrors, sorted by index (several per record are possible)
  size_t error_count = 0;           // every error, reported or not
  std::vector<ErrorTally> tally;    // every error, by field and kind
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
  // Records an error of record `index`; the message is made only when it is reported in full.
  template <class MakeMessage>
  void add_error(uint32_t index, std::string_view field, std::string_view kind, MakeMessage&& make_message) {
    ++error_count;
    auto it = std::find_if(tally.begin(), tally.end(),
                           [&](const ErrorTally& t) { return t.field == field && t.kind == kind; });
    if (it == tally.end())
      tally.push_back({field, kind, 1});
    else
      ++it->count;
    if (errors.size() < kMaxReportedErrors) errors.push_back(RecordError{index, std::string(field), make_message()});
  }

  void clear() {
    records.clear();
    errors.clear();
    error_count = 0;
    tally.clear();
    names.clear();
    total = 0;
    rejected = 0;
  }
};

}  // namespace nordiq
