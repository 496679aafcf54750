// The store's SQLite tables (component "history") and their prepared statements:
//   servers(id, name, profile, profile_override, first_seen, last_step)  dense ids = WindowStore ids;
//         last_step: the server's newest stored step (NULL before its first)
//   records(server_id, ts, status, <14 metrics>)                    raw accepted records, unique (ts, server_id)
//   steps(server_id, step_start, count, worst_severity, sum_<metric>...)  per-step sums (training source),
//         unique (step_start, server_id); no per-server index (schema version 2 dropped it).
//         Since version 3, a server's open step (its last_step) has no row while it is open: its
//         records are in `records`, its sums in memory (FleetStore), and its row is written when
//         a newer step closes it, or at a clean stop (then rewritten when it closes).
// Keys lead with the time on purpose: a batch (all servers at about the same time) then inserts
// into a few adjacent B-tree pages instead of one page per server, which keeps a 500-record
// commit to tens of WAL pages instead of hundreds. A per-server index would undo that for every
// post that opens a step, so one server's steps are read as a filtered range of time.
//   view step_history(server_id, server_name, profile, step_start, count, status, <14 metric means>)
// Times are epoch milliseconds (UTC). Internal to the store module.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "store/database.hpp"
#include "store/window_store.hpp"

namespace nordiq {

class HistoryTables {
 public:
  static constexpr std::string_view kComponent = "history";
  explicit HistoryTables(Database& db);  // migrates, then prepares the statements

  void insert_server(ServerId id, std::string_view name, Profile profile, bool override_profile,
                     EpochMs now);
  // false when (server, ts) was already stored (a duplicate).
  bool insert_record(ServerId id, EpochMs ts, Status status, const double* values);
  void add_to_step(ServerId id, EpochMs step_start, Status status, const double* values);
  // Writes a whole step's row (a closed step's sums, replacing any earlier row of that step).
  void put_step(ServerId id, const StepAggregate& step);

  // Raises the server's last_step to step_start (never lowers it).
  void set_last_step(ServerId id, EpochMs step_start);

  struct ServerRow {
    ServerId id;
    std::string name;
    Profile profile;
    std::optional<EpochMs> last_step;
  };
  std::vector<ServerRow> servers();
  // One server's steps with step_start in [from, to), oldest first.
  void steps(ServerId id, EpochMs from, EpochMs to, std::vector<StepAggregate>& out);
  // Every server's steps with step_start in [from, to], by time then server.
  void scan_steps(EpochMs from, EpochMs to, const std::function<void(ServerId, const StepAggregate&)>& f);
  // Every record with ts in [from, to], by time then server.
  using RecordVisitor = std::function<void(ServerId, EpochMs ts, Status, const double* values)>;
  void scan_records(EpochMs from, EpochMs to, const RecordVisitor& f);
  uint64_t count_records();
  uint64_t prune(EpochMs cutoff);  // deletes records and steps older than cutoff; returns records deleted

 private:
  Database& db_;
  Statement insert_server_, insert_record_, add_to_step_, put_step_, select_servers_, set_last_step_,
      select_steps_, scan_steps_, scan_records_, count_records_, prune_records_, prune_steps_;
};

}  // namespace nordiq
