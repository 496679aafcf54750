// A record appended to a FeedBatch as the parser would append it, for tests that feed the store
// without parsing JSON. The caller fills the returned record's values (zero otherwise); the
// reference is valid until the next record is added.
#pragma once

#include <cstdint>
#include <string_view>

#include "ingest/feed_batch.hpp"

namespace nordiq::test_support {

inline FeedRecord& add_record(FeedBatch& batch, std::string_view name, EpochMs t, Status status = Status::healthy) {
  FeedRecord& r = batch.records.emplace_back();
  r.index = static_cast<uint32_t>(batch.total++);
  r.timestamp = t;
  r.status = status;
  r.name_offset = static_cast<uint32_t>(batch.names.size());
  r.name_length = static_cast<uint32_t>(name.size());
  batch.names.append(name);
  return r;
}

}  // namespace nordiq::test_support
