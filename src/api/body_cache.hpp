// Response bodies rendered once per forecast snapshot, plain and gzip-compressed. The full
// GET /predictions/current (what dashboards and Grafana poll) is ~28 KB per server: 14 MB for
// 500. Rendering it per request costs ~25 ms, and cpp-httplib's own gzip, also per request,
// ~1 s of CPU (issue #14: one reader asking for gzip could keep the daemon busy). Here each
// snapshot's body is rendered on its first request and compressed on its first gzip request;
// every later request of that cycle shares them. While readers poll, the forecast cycle renders
// (and compresses) the next snapshot's bodies ahead (warm), before it publishes the snapshot, so
// no request waits for them; the gzip is assembled from the servers' entries deflated on the
// forecaster's threads (api/gzip_pieces.hpp), not compressed after the cycle on one thread.
#pragma once

#include <array>
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
  // Makes the gzip member of a plain body (its argument); by default zlib over the whole body.
  using Compress = std::function<std::string(const std::string& plain)>;
  static std::string gzip_whole(const std::string& plain) { return gzip_compress(plain, 1); }

  // The body of `snapshot` under `key` (what else it depends on, e.g. the model's description):
  // rendered by `render` once per (snapshot, key). Holding the snapshot keeps its address from
  // being reused by a later one.
  Body plain(const std::shared_ptr<const Snapshot>& snapshot, const std::string& key,
             const std::function<std::string()>& render) {
    plain_wanted_.store(true, std::memory_order_relaxed);
    return plain_of(*slot(snapshot, key), render);
  }

  // The gzip of that body: compressed once per (snapshot, key).
  Body gzipped(const std::shared_ptr<const Snapshot>& snapshot, const std::string& key,
               const std::function<std::string()>& render, const Compress& compress = gzip_whole) {
    gzip_wanted_.store(true, std::memory_order_relaxed);
    return gzip_of(*slot(snapshot, key), render, compress);
  }

  // Whether a request asked for gzip since the last warm (the forecaster then deflates the
  // servers' entries ahead).
  bool gzip_wanted() const { return gzip_wanted_.load(std::memory_order_relaxed); }

  // Once `published` is what readers get (the cycle's thread, after publishing): drops the other
  // snapshots' bodies and lets go of those snapshots. Readers still sending a body keep it; a
  // late reader of an older snapshot renders it again.
  void keep_only(const Snapshot* published) {
    std::lock_guard lock(slots_mutex_);
    for (auto& s : slots_)
      if (s && s->snapshot.get() != published) s.reset();
  }

  // On a new snapshot (the forecast cycle's thread, before it publishes it): renders its body, and
  // compresses it, if a request asked for one since the last warm; else nothing, and the bodies
  // stay lazy. Readers of the previous snapshot meanwhile keep its bodies (two are held until
  // keep_only).
  void warm(const std::shared_ptr<const Snapshot>& snapshot, const std::string& key,
            const std::function<std::string()>& render, const Compress& compress = gzip_whole) {
    const bool gzip = gzip_wanted_.exchange(false, std::memory_order_relaxed);
    if (!plain_wanted_.exchange(false, std::memory_order_relaxed) && !gzip) return;
    const auto s = slot(snapshot, key);
    if (gzip) gzip_of(*s, render, compress);
    else plain_of(*s, render);
  }

 private:
  // One snapshot's bodies. Each is made under its own mutex, so a reader of another snapshot, or
  // of the plain body while the gzip is made, never waits.
  struct Slot {
    std::shared_ptr<const Snapshot> snapshot;
    std::string key;
    std::mutex plain_mutex, gzip_mutex;
    Body plain, gzipped;
  };

  // The slot of (snapshot, key), made the newest if new: the one before it stays for the readers
  // still holding the previous snapshot, one more is dropped (its readers keep their bodies).
  std::shared_ptr<Slot> slot(const std::shared_ptr<const Snapshot>& snapshot, const std::string& key) {
    std::lock_guard lock(slots_mutex_);
    for (const auto& s : slots_)
      if (s && s->snapshot == snapshot && s->key == key) return s;
    auto fresh = std::make_shared<Slot>();
    fresh->snapshot = snapshot;
    fresh->key = key;
    slots_[1] = std::move(slots_[0]);
    slots_[0] = fresh;
    return fresh;
  }

  static Body plain_of(Slot& s, const std::function<std::string()>& render) {
    std::lock_guard lock(s.plain_mutex);
    if (!s.plain) s.plain = std::make_shared<const std::string>(render());
    return s.plain;
  }

  static Body gzip_of(Slot& s, const std::function<std::string()>& render, const Compress& compress) {
    const Body body = plain_of(s, render);
    std::lock_guard lock(s.gzip_mutex);
    if (!s.gzipped) s.gzipped = std::make_shared<const std::string>(compress(*body));
    return s.gzipped;
  }

  std::atomic<bool> plain_wanted_{false}, gzip_wanted_{false};
  std::mutex slots_mutex_;
  std::array<std::shared_ptr<Slot>, 2> slots_;  // newest first
};

// Whether If-None-Match lists `etag` (weak comparison, RFC 9110 §13.1.2) or is "*": the client
// holds this representation, and a 304 without the body answers it.
bool if_none_match(const httplib::Request& req, std::string_view etag);

// Sends a shared JSON body without copying it; `gzipped` adds Content-Encoding: gzip. Sent through
// a content provider of known length: cpp-httplib 0.11 gzips a plain `res.body` again for clients
// that accept gzip, but sends a provider's bytes as they are (tested in tests/e2e).
void send_shared_body(httplib::Response& res, std::shared_ptr<const std::string> body, bool gzipped);

}  // namespace nordiq::api
