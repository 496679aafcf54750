// `history --out store`: rows go through the daemon's own storage layer (FleetStore) into its
// step history, one transaction per block.
#pragma once

#include <memory>
#include <string>

#include "sim/history.hpp"

namespace nordiq::sim {

// Opens the store in `data_dir` ("" = the daemon's default). Throws UsageError / runtime_error.
std::unique_ptr<RowSink> make_store_sink(const std::string& data_dir, int days);

}  // namespace nordiq::sim
