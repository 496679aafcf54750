// The gzip of the full GET /predictions/current (no parameters), assembled from each server's
// entry deflated ahead on the forecaster's threads (ServerForecast::gzip_entry) instead of one
// zlib pass over ~15 MB after the cycle (~150 ms at 500 servers on one thread, during which
// readers of the new snapshot waited).
#pragma once

#include <string>
#include <string_view>

#include "serve/forecast_service.hpp"

namespace nordiq::api {

// Deflates `sf`'s entry of the full body into sf.gzip_entry (the forecaster's threads, after
// render_server_fragments).
void deflate_full_body_entry(serve::ServerForecast& sf);

// The gzip member of `plain`, the full body rendered from `snap`: its text outside the servers'
// entries is deflated now, each entry comes from the server's gzip_entry (or is deflated now when
// it has none). Decompresses to `plain` byte for byte; a body whose layout is not the snapshot's
// falls back to one zlib pass over it.
std::string gzip_full_body(const std::string& plain, const serve::PredictionSnapshot& snap);

}  // namespace nordiq::api
