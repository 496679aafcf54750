// POST /api/v1/write bodies: the first byte picks snappy-compressed or raw protobuf; any input
// decodes or is refused with a message, and whatever decodes assembles into records inside the
// contract (valid names, values in range). Never a crash or a read past the body.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/remote_write_assembler.hpp"
#include "ingest/remote_write_decoder.hpp"

using namespace nordiq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static RemoteWriteRequest request;
  static RemoteWriteAssembler assembler(RemoteWriteOptions{.max_servers = 64});
  static FeedBatch batch;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  RemoteWriteDecodeResult decoded;
  if (data[0] & 1) {
    decoded = decode_remote_write(body, 1 << 20, request);
  } else {
    request.clear();
    request.body.assign(body);
    decoded = decode_write_request(request);
  }
  if (decoded.status != RemoteWriteDecodeStatus::ok) {
    if (decoded.message.empty()) std::abort();
    return 0;
  }
  batch.clear();
  const EpochMs now = 1'760'000'000'000;
  const RemoteWriteCounts counts = assembler.add(request, now, batch);
  if (counts.used + counts.stale + counts.late + counts.rejected > counts.samples) std::abort();
  if (data[0] & 2) assembler.complete_all(batch);
  for (const FeedRecord& r : batch.records) {
    if (!valid_server_name(batch.name(r))) std::abort();
    for (int k = 0; k < kNumMetrics; ++k)
      if (!(r.values[k] >= kMetrics[k].min && r.values[k] <= kMetrics[k].max)) std::abort();
  }
  return 0;
}
