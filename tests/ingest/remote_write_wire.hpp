// A minimal protobuf *encoder* of remote_write WriteRequests for tests (the daemon only decodes),
// written from the protobuf wire-format spec independently of the decoder under test.
#pragma once

#include <snappy.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/metrics.hpp"

namespace nordiq::test {

inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
inline void put_key(std::string& out, uint32_t field, uint32_t wire) { put_varint(out, (uint64_t{field} << 3) | wire); }
inline void put_bytes(std::string& out, uint32_t field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

struct WireSeries {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<double, int64_t>> samples;  // value, timestamp ms
};

inline std::string encode_series(const WireSeries& s) {
  std::string ts;
  for (const auto& [name, value] : s.labels) {
    std::string label;
    put_bytes(label, 1, name);
    put_bytes(label, 2, value);
    put_bytes(ts, 1, label);
  }
  for (const auto& [value, t] : s.samples) {
    std::string sample;
    put_key(sample, 1, 1);
    uint64_t bits = 0;
    std::memcpy(&bits, &value, 8);
    for (int i = 0; i < 8; ++i) sample += static_cast<char>((bits >> (8 * i)) & 0xFF);
    put_key(sample, 2, 0);
    put_varint(sample, static_cast<uint64_t>(t));
    put_bytes(ts, 2, sample);
  }
  return ts;
}

inline std::string encode_write_request(const std::vector<WireSeries>& series) {
  std::string out;
  for (const WireSeries& s : series) put_bytes(out, 1, encode_series(s));
  return out;
}

inline std::string snappy_block(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

// nordiq:<metric>{instance="<server>:9100", job="node"} with one sample.
inline WireSeries nordiq_series(const std::string& metric, const std::string& server, double value, int64_t t) {
  return WireSeries{{{"__name__", "nordiq:" + metric}, {"instance", server + ":9100"}, {"job", "node"}}, {{value, t}}};
}

// Every metric of `server` at t, metric k's value = base + k.
inline std::vector<WireSeries> all_metrics(const std::string& server, int64_t t, double base = 1) {
  std::vector<WireSeries> out;
  for (int k = 0; k < kNumMetrics; ++k) out.push_back(nordiq_series(std::string(kMetrics[k].name), server, base + k, t));
  return out;
}

}  // namespace nordiq::test
