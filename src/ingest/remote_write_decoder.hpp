// Prometheus remote_write 1.0 bodies (POST /api/v1/write): a snappy *block*-compressed protobuf
// `prometheus.WriteRequest` (the four messages are in ingest/remote_write.proto, which documents
// the field numbers this decoder reads).
//
// Decoded by hand instead of protoc-generated code: the subset is four messages and seven fields,
// and a hand decoder fills reused vectors of views into the decompressed body, so a warmed-up
// thread decodes a request without allocating per series or sample (protobuf's generated classes
// allocate a std::string per label). Unknown fields are skipped as protobuf requires; metadata,
// exemplars and native histograms are skipped (NordIQ's series are float samples).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nordiq {

struct RemoteLabel {
  std::string_view name, value;  // views into RemoteWriteRequest::body
};

struct RemoteSample {
  double value = 0;
  int64_t timestamp_ms = 0;
};

struct RemoteSeries {
  uint32_t first_label = 0, label_count = 0;    // into RemoteWriteRequest::labels
  uint32_t first_sample = 0, sample_count = 0;  // into RemoteWriteRequest::samples
};

// One decoded request. Reuse it: clear() keeps every buffer's capacity.
struct RemoteWriteRequest {
  std::string body;  // the decompressed protobuf bytes the views point into
  std::vector<RemoteSeries> series;
  std::vector<RemoteLabel> labels;
  std::vector<RemoteSample> samples;

  // The value of label `name` of series s ("" when absent).
  std::string_view label(const RemoteSeries& s, std::string_view name) const;
  void clear() {
    body.clear();
    series.clear();
    labels.clear();
    samples.clear();
  }
};

enum class RemoteWriteDecodeStatus {
  ok,
  bad_snappy,     // not a valid snappy block → 400
  bad_protobuf,   // not a valid WriteRequest → 400
  too_large,      // decompressed size above the limit → 413
};

struct RemoteWriteDecodeResult {
  RemoteWriteDecodeStatus status = RemoteWriteDecodeStatus::ok;
  std::string message;  // what was wrong, naming the message and field
};

// Decompresses `compressed` (at most `max_decompressed_bytes` once decompressed) and decodes it
// into `out` (cleared first).
RemoteWriteDecodeResult decode_remote_write(std::string_view compressed, size_t max_decompressed_bytes,
                                            RemoteWriteRequest& out);

// Decodes an already decompressed WriteRequest that lives in out.body.
RemoteWriteDecodeResult decode_write_request(RemoteWriteRequest& out);

}  // namespace nordiq
