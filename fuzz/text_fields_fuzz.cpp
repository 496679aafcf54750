// The text the daemon parses outside JSON: ISO-8601 timestamps (records, query strings), server
// names (paths, labels), metric names, Prometheus instance labels. Invariants, not just no crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "ingest/remote_write_assembler.hpp"

using namespace nordiq;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr EpochMs kYear10000 = 253'402'300'800'000;
  if (const auto t = parse_iso8601(text); t && *t >= 0 && *t < kYear10000) {
    // A parsed instant (1970 to 9999: what format_iso8601 writes) formats and parses back to itself.
    const auto again = parse_iso8601(format_iso8601(*t));
    if (!again || *again != *t) std::abort();
  }
  if (valid_server_name(text) && (text.empty() || text.size() > 128)) std::abort();
  if (const auto m = metric_from_name(text); m && kMetrics[static_cast<int>(*m)].name != text) std::abort();
  const std::string_view host = strip_port(text);
  if (host.size() > text.size()) std::abort();
  (void)profile_from_server_name(text);
  return 0;
}
