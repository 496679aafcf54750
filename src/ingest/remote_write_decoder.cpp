#include "ingest/remote_write_decoder.hpp"

#include <cstring>

#include <fmt/format.h>
#include <snappy.h>

namespace nordiq {

namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A bounded reader over protobuf bytes; every read checks the end, so truncated or hostile input
// ends in an error, never a read past the buffer.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}
  bool done() const { return p_ == end_; }

  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const auto byte = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;  // more than 10 bytes
  }
  bool fixed64(uint64_t& v) {
    if (end_ - p_ < 8) return false;
    std::memcpy(&v, p_, 8);  // little-endian on every platform we build for
    p_ += 8;
    return true;
  }
  bool bytes(std::string_view& v) {
    uint64_t n = 0;
    if (!varint(n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    v = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  // Reads a field key; false at a malformed key (field number 0 is invalid).
  bool key(uint32_t& field, uint32_t& wire) {
    uint64_t k = 0;
    if (!varint(k) || (k >> 3) == 0 || (k >> 3) > 0x1FFFFFFF) return false;
    field = static_cast<uint32_t>(k >> 3);
    wire = static_cast<uint32_t>(k & 7);
    return true;
  }
  // Skips a field the decoder does not need. Groups (wire types 3, 4) are long deprecated and
  // never sent by Prometheus: refused.
  bool skip(uint32_t wire) {
    uint64_t ignored = 0;
    std::string_view ignored_bytes;
    switch (wire) {
      case kVarint: return varint(ignored);
      case kFixed64: return fixed64(ignored);
      case kLengthDelimited: return bytes(ignored_bytes);
      case kFixed32:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      default: return false;
    }
  }

 private:
  const char* p_;
  const char* end_;
};

RemoteWriteDecodeResult bad(std::string_view where) {
  return {RemoteWriteDecodeStatus::bad_protobuf, fmt::format("invalid protobuf WriteRequest: {}", where)};
}

bool decode_label(std::string_view bytes, RemoteLabel& label) {
  Reader r(bytes);
  uint32_t field = 0, wire = 0;
  while (!r.done()) {
    if (!r.key(field, wire)) return false;
    if ((field == 1 || field == 2) && wire == kLengthDelimited) {
      if (!r.bytes(field == 1 ? label.name : label.value)) return false;
    } else if (!r.skip(wire)) {
      return false;
    }
  }
  return true;
}

bool decode_sample(std::string_view bytes, RemoteSample& sample) {
  Reader r(bytes);
  uint32_t field = 0, wire = 0;
  while (!r.done()) {
    if (!r.key(field, wire)) return false;
    if (field == 1 && wire == kFixed64) {
      uint64_t bits = 0;
      if (!r.fixed64(bits)) return false;
      std::memcpy(&sample.value, &bits, 8);
    } else if (field == 2 && wire == kVarint) {
      uint64_t v = 0;
      if (!r.varint(v)) return false;
      sample.timestamp_ms = static_cast<int64_t>(v);  // int64: two's complement in 10 bytes
    } else if (!r.skip(wire)) {
      return false;
    }
  }
  return true;
}

// TimeSeries: 1 = labels, 2 = samples; 3 = exemplars and 4 = histograms are skipped.
RemoteWriteDecodeResult decode_series(std::string_view bytes, RemoteWriteRequest& out) {
  RemoteSeries s;
  s.first_label = static_cast<uint32_t>(out.labels.size());
  s.first_sample = static_cast<uint32_t>(out.samples.size());
  Reader r(bytes);
  uint32_t field = 0, wire = 0;
  while (!r.done()) {
    if (!r.key(field, wire)) return bad("TimeSeries: malformed field key");
    if ((field == 1 || field == 2) && wire == kLengthDelimited) {
      std::string_view inner;
      if (!r.bytes(inner)) return bad("TimeSeries: truncated field");
      if (field == 1 && !decode_label(inner, out.labels.emplace_back())) return bad("TimeSeries.labels: malformed Label");
      if (field == 2 && !decode_sample(inner, out.samples.emplace_back())) return bad("TimeSeries.samples: malformed Sample");
    } else if (field == 1 || field == 2) {
      return bad(fmt::format("TimeSeries.{}: wire type {}, expected 2", field == 1 ? "labels" : "samples", wire));
    } else if (!r.skip(wire)) {
      return bad("TimeSeries: malformed field");
    }
  }
  s.label_count = static_cast<uint32_t>(out.labels.size()) - s.first_label;
  s.sample_count = static_cast<uint32_t>(out.samples.size()) - s.first_sample;
  out.series.push_back(s);
  return {};
}

}  // namespace

std::string_view RemoteWriteRequest::label(const RemoteSeries& s, std::string_view name) const {
  for (uint32_t i = s.first_label; i < s.first_label + s.label_count; ++i)
    if (labels[i].name == name) return labels[i].value;
  return {};
}

// WriteRequest: 1 = timeseries; 3 = metadata is skipped.
RemoteWriteDecodeResult decode_write_request(RemoteWriteRequest& out) {
  out.series.clear();
  out.labels.clear();
  out.samples.clear();
  Reader r(out.body);
  uint32_t field = 0, wire = 0;
  while (!r.done()) {
    if (!r.key(field, wire)) return bad("WriteRequest: malformed field key");
    if (field == 1) {
      std::string_view series;
      if (wire != kLengthDelimited) return bad(fmt::format("WriteRequest.timeseries: wire type {}, expected 2", wire));
      if (!r.bytes(series)) return bad("WriteRequest.timeseries: truncated");
      if (auto result = decode_series(series, out); result.status != RemoteWriteDecodeStatus::ok) return result;
    } else if (!r.skip(wire)) {
      return bad(fmt::format("WriteRequest: malformed field {}", field));
    }
  }
  return {};
}

RemoteWriteDecodeResult decode_remote_write(std::string_view compressed, size_t max_decompressed_bytes,
                                            RemoteWriteRequest& out) {
  out.clear();
  size_t length = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &length))
    return {RemoteWriteDecodeStatus::bad_snappy,
            "the body is not a snappy block (remote_write 1.0 sends snappy block format, not framed)"};
  if (length > max_decompressed_bytes)
    return {RemoteWriteDecodeStatus::too_large,
            fmt::format("the decompressed body would be {} bytes, above the limit of {}", length, max_decompressed_bytes)};
  out.body.resize(length);
  if (!snappy::RawUncompress(compressed.data(), compressed.size(), out.body.data()))
    return {RemoteWriteDecodeStatus::bad_snappy, "the snappy block is corrupt"};
  return decode_write_request(out);
}

}  // namespace nordiq
