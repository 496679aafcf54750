// The HTTP side of `nordiq bench`, against the real daemon (this binary's `serve`, spawned on a
// free loopback port over a prepared store): POST /feed/data with 500 records per request, and
// GET /predictions/current of 500 servers with concurrent clients.
#pragma once

#include <filesystem>
#include <string>

namespace nordiq::bench {

struct Latency {
  double p50_ms = 0, p99_ms = 0, per_s = 0;  // per_s: records/s (feed) or requests/s (GET)
  int requests = 0;
  double not_modified_share = 0;  // GETs answered 304 (revalidating clients)
  int bodies_seen = 0;             // distinct ETags the readers got (cycles crossed, plus one)
};

struct HttpResults {
  Latency feed_500, predictions_500;
  // The first GET after the feed, one client: nobody polled during the cycles before it, so its
  // body is rendered for it (the steady clients' measurement starts after it).
  double predictions_500_first_ms = 0;
  double predictions_500_first_gzip_ms = 0;  // the first gzip GET: compressed for it
  Latency predictions_500_revalidated;  // the same clients sending back the ETag they hold
  // The same clients polling while posts start cycles that publish: plain, then gzip readers.
  Latency predictions_500_across_cycles, predictions_500_gzip_across_cycles;
  // The same again while a retraining job (POST /admin/trigger-training) runs in the daemon.
  bool during_training = false;
  Latency feed_500_training, predictions_500_training;
  std::string training_phase;  // the job's phase when the measurement ended
  int clients = 0;
};

// A port the kernel just handed out on 127.0.0.1 (free now).
int free_loopback_port();

// What measure_http does: `feed_posts` posts of 500 records; `get_requests_per_client` GETs by
// each of `clients` in a loop; `cycle_posts` posts (one a second, each opening a step) while the
// readers poll across the cycles they start; `during_training`: all again while a job trains.
struct HttpPlan {
  int feed_posts = 1000, get_requests_per_client = 50, clients = 4, cycle_posts = 8;
  bool during_training = false;
};

// `data_dir` holds the 500-server store; its steps end before now, so feeds continue it. With
// `plan.during_training` (the store must hold ≥ 3 days), the measurement is repeated while a
// training job runs, then the job is cancelled.
HttpResults measure_http(const std::filesystem::path& data_dir, const std::filesystem::path& models_dir,
                         const HttpPlan& plan);

}  // namespace nordiq::bench
