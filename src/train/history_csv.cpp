// Streaming reader of the `nordiq simulate history` CSV (docs/SIMULATOR.md §9): fixed-size read
// buffer, fields split in place, numbers parsed with from_chars, columns bound to their role once
// from the header, so the per-row work is a scan and a hash lookup of the server name.
#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "train/history.hpp"

namespace nordiq::train {
namespace {

enum class Role : uint8_t { ignored, timestamp, server_name, profile, status, metric };

struct Column {
  Role role = Role::ignored;
  int metric = -1;
  std::string name;
};

class CsvReader {
 public:
  CsvReader(const std::string& source, const HistoryOptions& options)
      : source_(source), builder_(options) {}

  void line(std::string_view text, int64_t line_no) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (header_.empty()) {
      parse_header(text, line_no);
      return;
    }
    if (text.empty()) return;  // tolerate blank lines (a trailing one in particular)
    parse_row(text, line_no);
  }

  History finish() {
    if (header_.empty()) throw HistoryError(fmt::format("{}: empty file (no CSV header)", source_));
    return builder_.finish();
  }

 private:
  [[noreturn]] void fail(int64_t line_no, size_t col, std::string_view reason) const {
    throw HistoryError(fmt::format("{}:{}: column {} ({}): {}", source_, line_no, col + 1,
                                   header_[col].name, reason));
  }

  void parse_header(std::string_view text, int64_t line_no) {
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // BOM
    int seen_metric[kNumMetrics] = {};
    bool seen[5] = {};
    size_t pos = 0;
    while (true) {
      const size_t comma = text.find(',', pos);
      const std::string_view name =
          text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      Column c;
      c.name = std::string(name);
      if (name == "timestamp") c.role = Role::timestamp;
      else if (name == "server_name") c.role = Role::server_name;
      else if (name == "profile") c.role = Role::profile;
      else if (name == "status") c.role = Role::status;
      else if (auto m = metric_from_name(name)) {
        c.role = Role::metric;
        c.metric = static_cast<int>(*m);
        if (seen_metric[c.metric]++)
          throw HistoryError(fmt::format("{}:{}: CSV header: column '{}' appears twice", source_,
                                         line_no, name));
      }
      if (c.role != Role::ignored && c.role != Role::metric) {
        if (seen[static_cast<int>(c.role)])
          throw HistoryError(fmt::format("{}:{}: CSV header: column '{}' appears twice", source_,
                                         line_no, name));
        seen[static_cast<int>(c.role)] = true;
      }
      header_.push_back(std::move(c));
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    std::string missing;
    auto need = [&](bool ok, std::string_view name) {
      if (!ok) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", name);
    };
    need(seen[static_cast<int>(Role::timestamp)], "timestamp");
    need(seen[static_cast<int>(Role::server_name)], "server_name");
    need(seen[static_cast<int>(Role::status)], "status");
    for (int k = 0; k < kNumMetrics; ++k) need(seen_metric[k] != 0, kMetrics[k].name);
    if (!missing.empty())
      throw HistoryError(fmt::format(
          "{}:{}: CSV header lacks required column(s): {} (expected the `nordiq simulate history` "
          "header: timestamp,server_name,profile,status,<14 metrics>)",
          source_, line_no, missing));
    fields_.resize(header_.size());
  }

  void parse_row(std::string_view text, int64_t line_no) {
    size_t n = 0, pos = 0;
    while (true) {
      const size_t comma = text.find(',', pos);
      if (n == fields_.size())
        throw HistoryError(fmt::format("{}:{}: expected {} columns, got more", source_, line_no,
                                       fields_.size()));
      fields_[n++] =
          text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    if (n != fields_.size())
      throw HistoryError(
          fmt::format("{}:{}: expected {} columns, got {}", source_, line_no, fields_.size(), n));

    std::string_view server, profile_text;
    std::optional<Status> status;
    float values[kNumMetrics];
    for (size_t c = 0; c < n; ++c) {
      const std::string_view f = fields_[c];
      switch (header_[c].role) {
        case Role::ignored: break;
        case Role::timestamp: {
          // Rows come grouped by timestamp: parse each distinct text once.
          if (f != last_ts_text_ || !have_ts_) {
            const auto t = parse_iso8601(f);
            if (!t) fail(line_no, c, fmt::format("not an ISO-8601 timestamp: '{}'", f));
            last_ts_text_.assign(f);
            last_ts_ = *t;
            have_ts_ = true;
          }
          break;
        }
        case Role::server_name:
          if (!valid_server_name(f))
            fail(line_no, c, fmt::format("not a valid server name ([A-Za-z0-9._-]{{1,128}}): '{}'", f));
          server = f;
          break;
        case Role::profile:
          profile_text = f;
          if (!f.empty() && !profile_from_id(f))
            fail(line_no, c, fmt::format("unknown profile '{}'", f));
          break;
        case Role::status:
          status = status_from_name(f);
          if (!status) fail(line_no, c, fmt::format("unknown status '{}'", f));
          break;
        case Role::metric: {
          const MetricSpec& spec = kMetrics[header_[c].metric];
          double v = 0;
          const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
          if (f.empty() || ec != std::errc() || end != f.data() + f.size() || !std::isfinite(v))
            fail(line_no, c, fmt::format("not a finite number: '{}'", f));
          if (v < spec.min || v > spec.max)
            fail(line_no, c, fmt::format("must be between {} and {}, got {}", spec.min, spec.max, v));
          if (spec.integer && v != std::floor(v))
            fail(line_no, c, fmt::format("must be an integer, got {}", f));
          values[header_[c].metric] = static_cast<float>(v);
          break;
        }
      }
    }
    const Profile profile =
        profile_text.empty() ? profile_from_server_name(server) : *profile_from_id(profile_text);
    const ServerId id = builder_.intern(server, profile);
    builder_.add(id, last_ts_, values, *status);
  }

  std::string source_;
  HistoryBuilder builder_;
  std::vector<Column> header_;
  std::vector<std::string_view> fields_;
  std::string last_ts_text_;
  EpochMs last_ts_ = 0;
  bool have_ts_ = false;
};

}  // namespace

History read_history_csv(std::istream& in, const std::string& source_name,
                         const HistoryOptions& options) {
  CsvReader reader(source_name, options);
  constexpr size_t kChunk = 1 << 20;
  std::string buf;
  buf.reserve(2 * kChunk);
  std::vector<char> chunk(kChunk);
  int64_t line_no = 0;
  size_t start = 0;  // first unconsumed byte of buf
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto got = static_cast<size_t>(in.gcount());
    if (got == 0) break;
    // Keep only the unfinished tail of the previous chunk, then append the new bytes.
    buf.erase(0, start);
    start = 0;
    buf.append(chunk.data(), got);
    size_t nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      reader.line(std::string_view(buf).substr(start, nl - start), ++line_no);
      start = nl + 1;
    }
  }
  if (in.bad()) throw HistoryError(fmt::format("{}: read error", source_name));
  if (start < buf.size()) reader.line(std::string_view(buf).substr(start), ++line_no);
  return reader.finish();
}

History read_history_csv_file(const std::string& path, const HistoryOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw HistoryError(fmt::format("{}: cannot open for reading", path));
  return read_history_csv(in, path, options);
}

}  // namespace nordiq::train
