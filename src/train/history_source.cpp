// load_history: a CSV file, or a daemon data dir, read through the store's read-only step-history
// reader (store/step_history_reader.hpp). Here each stored row is checked (profile, status, the
// metrics' ranges) and becomes a step of the History.
#include <filesystem>

#include <fmt/format.h>

#include "store/step_history_reader.hpp"
#include "train/history.hpp"

namespace nordiq::train {
namespace {

// One stored step into the History, or a HistoryError naming the file, the row and the column.
void add_step(HistoryBuilder& builder, std::string_view file, const StepHistoryRow& row) {
  auto fail = [&](std::string_view column, std::string_view reason) {
    throw HistoryError(fmt::format("{}: step_history row {} ({} at step {}): {}: {}", file, row.row, row.server,
                                   row.step_start, column, reason));
  };
  const auto profile = profile_from_id(row.profile);
  if (!profile) fail("profile", fmt::format("unknown profile '{}'", row.profile));
  const auto status = status_from_name(row.status);
  if (!status) fail("status", fmt::format("unknown status '{}'", row.status));
  float values[kNumMetrics];
  for (int k = 0; k < kNumMetrics; ++k) {
    if (row.null_mean[k]) fail(kMetrics[k].name, "NULL");
    const double v = row.means[k];
    if (!(v >= kMetrics[k].min && v <= kMetrics[k].max))
      fail(kMetrics[k].name, fmt::format("must be between {} and {}, got {}", kMetrics[k].min, kMetrics[k].max, v));
    values[k] = static_cast<float>(v);
  }
  builder.add(builder.intern(row.server, *profile), row.step_start, values, *status);
}

History read_history_store(const std::filesystem::path& dir, const HistoryOptions& options) {
  try {
    StepHistoryReader reader(dir);
    HistoryBuilder builder(options);
    // The servers with steps in range, interned in id order first: the History lists servers as
    // a per-server read would, while the steps come in the key's order.
    reader.servers_since(options.since, [&](std::string_view server, std::string_view profile_name) {
      if (const auto profile = profile_from_id(profile_name))
        builder.intern(server, *profile);  // an unknown profile fails below, naming the row
    });
    const std::string file = reader.file();
    reader.steps_since(options.since, [&](const StepHistoryRow& row) { add_step(builder, file, row); });
    return builder.finish();
  } catch (const StoreError& e) {
    throw HistoryError(e.what());
  }
}

}  // namespace

EpochMs store_last_step(const std::filesystem::path& dir) {
  try {
    return StepHistoryReader(dir).newest_step();
  } catch (const StoreError& e) {
    throw HistoryError(e.what());
  }
}

History load_history(const std::string& path, const HistoryOptions& options) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st))
    throw HistoryError(fmt::format("{}: no such file or directory", path));
  if (std::filesystem::is_directory(st)) return read_history_store(path, options);
  return read_history_csv_file(path, options);
}

}  // namespace nordiq::train
