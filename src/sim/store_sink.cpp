#include "sim/store_sink.hpp"

#include "sim/options.hpp"

namespace nordiq::sim {

std::unique_ptr<RowSink> make_store_sink(const std::string&, int) {
  throw UsageError("--out store is not yet supported; use --out csv, or fill a live daemon with stream --speed");
}

}  // namespace nordiq::sim
