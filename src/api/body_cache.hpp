// Response bodies rendered once per forecast snapshot, plain and gzip-compressed. The full
// GET /predictions/current (what dashboards and Grafana poll) is ~28 KB per server: 14 MB for
// 500. Rendering it per request costs ~25 ms, and cpp-httplib's own gzip, also per request,
// ~1 s of CPU (issue #14: one reader asking for gzip could keep the daemon busy). Here each
// snapshot's body is rendered on its first request and compressed on its first gzip request;
// every later request of that cycle shares them. While readers poll, the forecast cycle renders
// (and compresses) the next snapshot's body ahead (warm), so no request waits for it: the first
// request after a cycle waited ~25 ms for the render and ~150 ms for the gzip at 500 servers.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace nordiq::api {

// gzip (RFC 1952) of `in` at zlib level `level` (1 = fastest).
std::string gzip_compress(std::string_view in, int level);

// Whether the request's Accept-Encoding lists gzip (or *) with a non-zero q.
bool accepts_gzip(const httplib::Request& req);

template <class Snapshot>
class SnapshotBodyCache {
 public:
  using Body = std::shared_ptr<const std::string>;

  // The body of `snapshot` under `key` (what else it depends on, e.g. the model's description):
  // rendered by `render` once per (snapshot, key). Holding the snapshot keeps its address from
  // being reused by a later one.
  Body plain(const std::shared_ptr<const Snapshot>& snapshot, const std::string& key,
             const std::function<std::string()>& render) {
    plain_wanted_.store(true, std::memory_order_relaxed);
    return render_plain(snapshot, key, render);
  }

  // The gzip of a body returned by plain(): compressed once (fast level: this runs once a cycle).
  Body gzipped(const Body& plain) {
    gzip_wanted_.store(true, std::memory_order_relaxed);
    return compress(plain);
  }

  // On a new snapshot (the forecast cycle's thread): renders its body, and compresses it, if a
  // request asked for one since the last warm; else nothing, and the bodies stay lazy.
  void warm(const std::shared_ptr<const Snapshot>& snapshot, const std::string& key,
            const std::function<std::string()>& render) {
    const bool gzip = gzip_wanted_.exchange(false, std::memory_order_relaxed);
    if (!plain_wanted_.exchange(false, std::memory_order_relaxed) && !gzip) return;
    const Body body = render_plain(snapshot, key, render);
    if (gzip) compress(body);
  }

 private:
  Body render_plain(const std::shared_ptr<const Snapshot>& snapshot, const std::string& key,
                    const std::function<std::string()>& render) {
    std::lock_guard lock(mutex_);
    if (snapshot_ != snapshot || key_ != key || !plain_) {
      plain_ = std::make_shared<const std::string>(render());
      snapshot_ = snapshot;
      key_ = key;
    }
    return plain_;
  }

  // Which body the gzip belongs to is kept beside it (gzipped_of_), so plain() never touches it:
  // the two halves have their own mutexes.
  Body compress(const Body& plain) {
    std::lock_guard lock(gzip_mutex_);
    if (!gzipped_ || gzipped_of_ != plain) {
      gzipped_ = std::make_shared<const std::string>(gzip_compress(*plain, 1));
      gzipped_of_ = plain;
    }
    return gzipped_;
  }

  std::atomic<bool> plain_wanted_{false}, gzip_wanted_{false};
  std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::string key_;
  Body plain_;
  std::mutex gzip_mutex_;
  Body gzipped_, gzipped_of_;
};

// Whether If-None-Match lists `etag` (weak comparison, RFC 9110 §13.1.2) or is "*": the client
// holds this representation, and a 304 without the body answers it.
bool if_none_match(const httplib::Request& req, std::string_view etag);

// Sends a shared JSON body without copying it; `gzipped` adds Content-Encoding: gzip. Sent through
// a content provider of known length: cpp-httplib 0.11 gzips a plain `res.body` again for clients
// that accept gzip, but sends a provider's bytes as they are (tested in tests/e2e).
void send_shared_body(httplib::Response& res, std::shared_ptr<const std::string> body, bool gzipped);

}  // namespace nordiq::api
