// The HTTP side of `nordiq bench`, against the real daemon (this binary's `serve`, spawned on a
// free loopback port over a prepared store): POST /feed/data with 500 records per request, and
// GET /predictions/current of 500 servers with concurrent clients.
#pragma once

#include <filesystem>

namespace nordiq::bench {

struct Latency {
  double p50_ms = 0, p99_ms = 0, per_s = 0;  // per_s: records/s (feed) or requests/s (GET)
  int requests = 0;
};

struct HttpResults {
  Latency feed_500, predictions_500;
  int clients = 0;
};

// `data_dir` holds the 500-server store; its steps end before now, so feeds continue it.
HttpResults measure_http(const std::filesystem::path& data_dir, const std::filesystem::path& models_dir, int feed_posts,
                         int get_requests_per_client, int clients);

}  // namespace nordiq::bench
