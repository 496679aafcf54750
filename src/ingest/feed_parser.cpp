#include "ingest/feed_parser.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace nordiq {

namespace {

namespace od = simdjson::ondemand;

// Field slots of a record: the 14 metrics by index, then the non-metric fields.
constexpr int kFieldTimestamp = kNumMetrics;
constexpr int kFieldServerName = kNumMetrics + 1;
constexpr int kFieldStatus = kNumMetrics + 2;
constexpr int kFieldProfile = kNumMetrics + 3;
constexpr int kNumFields = kNumMetrics + 4;
constexpr uint32_t kRequiredMask = (1u << (kNumMetrics + 3)) - 1;  // all but profile

constexpr std::array<std::string_view, kNumFields> kFieldNames = [] {
  std::array<std::string_view, kNumFields> names{};
  for (int i = 0; i < kNumMetrics; ++i) names[i] = kMetrics[i].name;
  names[kFieldTimestamp] = "timestamp";
  names[kFieldServerName] = "server_name";
  names[kFieldStatus] = "status";
  names[kFieldProfile] = "profile";
  return names;
}();

// Field slot of a key, or -1 for an unknown (ignored) field. Length + first byte reject most
// candidates before any memcmp; called once per field, never per character.
int field_slot(std::string_view key) {
  for (int i = 0; i < kNumFields; ++i) {
    const std::string_view name = kFieldNames[i];
    if (name.size() == key.size() && name[0] == key[0] && name == key) return i;
  }
  return -1;
}

std::string_view json_type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array: return "array";
    case od::json_type::object: return "object";
    case od::json_type::number: return "number";
    case od::json_type::string: return "string";
    case od::json_type::boolean: return "boolean";
    case od::json_type::null: return "null";
  }
  return "unknown";
}

// Echo of bad input in error messages, bounded so a hostile value cannot bloat the response.
std::string clip(std::string_view s, size_t max = 64) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...";
}

std::string status_choices() {
  std::string out;
  for (auto name : kStatusNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string profile_choices() {
  std::string out;
  for (auto name : kProfileIds) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// Walks a value the parser would otherwise skip (an unknown field, an unknown top-level key):
// on-demand parsing skips without validating, and a body with `"junk": tru` or `[1,2,,3]` in an
// ignored field is still not JSON (SPEC §1.2: 400). Depth-limited like simdjson itself.
simdjson::error_code validate_value(od::value value, int depth = 0) {
  if (depth > 64) return simdjson::DEPTH_ERROR;
  od::json_type type;
  if (auto err = value.type().get(type)) return err;
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (auto err = value.get_object().get(obj)) return err;
      for (auto field : obj) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key)) return err;
        od::value v;
        if (auto err = field.value().get(v)) return err;
        if (auto err = validate_value(v, depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array arr;
      if (auto err = value.get_array().get(arr)) return err;
      for (auto element : arr) {
        od::value v;
        if (auto err = element.get(v)) return err;
        if (auto err = validate_value(v, depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      double d;
      return value.get_double().get(d) == simdjson::SUCCESS ? simdjson::SUCCESS : simdjson::NUMBER_ERROR;
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::boolean: {
      bool b;
      return value.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto err = value.is_null().get(is_null)) return err;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

struct FeedParser::Json {
  od::parser parser;
};

FeedParser::FeedParser(FeedLimits limits) : limits_(limits), json_(std::make_unique<Json>()) {}

FeedParser::~FeedParser() = default;

void FeedParser::release_buffers_above(size_t keep_bytes) {
  if (buffer_capacity_ <= keep_bytes) return;
  buffer_.reset();
  buffer_capacity_ = 0;
  json_ = std::make_unique<Json>();
}

namespace {

// Set when the whole body is refused (malformed JSON); a bad record only adds errors to the batch.
using Malformed = std::optional<FeedParseResult>;

FeedParseResult malformed(std::string message) { return FeedParseResult{FeedParseStatus::malformed, std::move(message)}; }
FeedParseResult invalid_json(simdjson::error_code err) {
  return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
}

// What every record's fields are checked against.
struct RecordRules {
  const FeedLimits& limits;
  int64_t latest_allowed;  // timestamps after this are in the future
  int64_t oldest_allowed;  // before this, older than the retention
};

// A metric field: its value into rec.values[slot], or its error into `out`.
[[gnu::always_inline]] inline void read_metric(int slot, od::value& v, od::json_type type, uint32_t i, FeedRecord& rec, FeedBatch& out) {
  const MetricSpec& spec = kMetrics[slot];
  const std::string_view field = kFieldNames[slot];
  if (type != od::json_type::number) {
    out.add_error(i, field, "wrong_type", [&] {
      return fmt::format("must be {}, got {}", spec.integer ? "an integer" : "a number", json_type_name(type));
    });
    return;
  }
  double d;
  if (v.get_double().get(d) || !std::isfinite(d)) {
    out.add_error(i, field, "not_finite", [&] { return fmt::format("must be a finite number, got {}", clip(v.raw_json_token())); });
  } else if (spec.integer && d != std::floor(d)) {
    out.add_error(i, field, "not_integer", [&] { return fmt::format("must be an integer, got {}", d); });
  } else if (d < spec.min || d > spec.max) {
    if (spec.max == kUnbounded)
      out.add_error(i, field, "out_of_range", [&] { return fmt::format("must be >= {}, got {}", spec.min, d); });
    else
      out.add_error(i, field, "out_of_range", [&] { return fmt::format("must be between {} and {}, got {}", spec.min, spec.max, d); });
  } else {
    rec.values[slot] = d;
  }
}

// A text field (timestamp, server_name, status, profile) into rec / name, or its error into `out`.
[[gnu::always_inline]] inline Malformed read_text(int slot, od::value& v, od::json_type type, uint32_t i, const RecordRules& rules, FeedRecord& rec,
                    std::string_view& name, uint32_t& seen, FeedBatch& out) {
  const std::string_view field = kFieldNames[slot];
  if (slot == kFieldProfile && type == od::json_type::null) {
    seen &= ~(1u << slot);  // "profile": null = no override
    return std::nullopt;
  }
  if (type != od::json_type::string) {
    out.add_error(i, field, "wrong_type", [&] { return fmt::format("must be a string, got {}", json_type_name(type)); });
    return std::nullopt;
  }
  std::string_view text;
  if (auto err = v.get_string().get(text)) {
    if (err != simdjson::INCORRECT_TYPE) return invalid_json(err);
    out.add_error(i, field, "invalid_string", [] { return std::string("must be a valid string"); });
    return std::nullopt;
  }
  switch (slot) {
    case kFieldTimestamp: {
      auto t = parse_iso8601(text);
      if (!t)
        out.add_error(i, field, "bad_timestamp", [&] { return fmt::format("must be an ISO-8601 timestamp, got '{}'", clip(text)); });
      else if (*t > rules.latest_allowed)
        out.add_error(i, field, "in_future", [&] { return fmt::format("is more than 5 minutes in the future: '{}'", clip(text)); });
      else if (*t < rules.oldest_allowed)
        out.add_error(i, field, "too_old", [&] { return fmt::format("is older than the retention period: '{}'", clip(text)); });
      else
        rec.timestamp = *t;
      break;
    }
    case kFieldServerName:
      if (!valid_server_name(text, rules.limits.max_name_length))
        out.add_error(i, field, "bad_name", [&] {
          return fmt::format("must match [A-Za-z0-9._-]{{1,{}}}, got '{}'", rules.limits.max_name_length, clip(text));
        });
      else
        name = text;  // lives in the parser's string buffer until the next parse
      break;
    case kFieldStatus:
      if (auto st = status_from_name(text))
        rec.status = *st;
      else
        out.add_error(i, field, "unknown_value", [&] { return fmt::format("must be one of {}, got '{}'", status_choices(), clip(text)); });
      break;
    case kFieldProfile:
      if (auto p = profile_from_id(text))
        rec.profile = static_cast<int8_t>(*p);
      else
        out.add_error(i, field, "unknown_value", [&] { return fmt::format("must be one of {}, got '{}'", profile_choices(), clip(text)); });
      break;
  }
  return std::nullopt;
}

// Element i of "records": appended to out.records when every field is valid, else its errors
// are added to `out` and it is counted rejected.
Malformed read_record(od::value& value, uint32_t i, const RecordRules& rules, FeedBatch& out) {
  const size_t errors_before = out.error_count;
  od::object obj;
  if (auto err = value.get_object().get(obj)) {
    if (err != simdjson::INCORRECT_TYPE) return invalid_json(err);
    out.add_error(i, "record", "not_an_object", [] { return std::string("must be a JSON object"); });
    ++out.rejected;
    return std::nullopt;
  }
  FeedRecord rec;
  rec.index = i;
  uint32_t seen = 0;
  std::string_view name;
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return invalid_json(err);
    const int slot = field_slot(key);
    od::value v;
    if (auto err = field.value().get(v)) return invalid_json(err);
    if (slot < 0) {  // unknown fields are ignored, never stored, but must be JSON
      if (auto err = validate_value(v))
        return malformed(fmt::format("invalid JSON in record {} field \"{}\": {}", i, clip(key), simdjson::error_message(err)));
      continue;
    }
    seen |= 1u << slot;
    od::json_type type;
    if (v.type().get(type)) {
      // Not a JSON value start: NaN/Infinity literals some encoders emit. Reject the field.
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\t' || raw.back() == '\r'))
        raw.remove_suffix(1);
      out.add_error(i, kFieldNames[slot], "not_finite", [&] { return fmt::format("must be a finite number, got {}", clip(raw)); });
      continue;
    }
    if (slot < kNumMetrics) {
      read_metric(slot, v, type, i, rec, out);
    } else if (Malformed m = read_text(slot, v, type, i, rules, rec, name, seen, out)) {
      return m;
    }
  }
  for (int slot = 0; slot < kNumFields; ++slot)
    if ((kRequiredMask >> slot & 1u) && !(seen >> slot & 1u))
      out.add_error(i, kFieldNames[slot], "required", [] { return std::string("is required"); });
  if (out.error_count != errors_before) {
    ++out.rejected;
    return std::nullopt;
  }
  rec.name_offset = static_cast<uint32_t>(out.names.size());
  rec.name_length = static_cast<uint32_t>(name.size());
  out.names.append(name);
  out.records.push_back(rec);
  return std::nullopt;
}

}  // namespace

FeedParseResult FeedParser::parse(std::string_view body, EpochMs now, FeedBatch& out) {
  out.clear();
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: parse from a padded copy that is
  // reused across requests (a 188 KB memcpy is ~10 µs, far below the parse itself).
  const size_t needed = body.size() + simdjson::SIMDJSON_PADDING;
  if (needed > buffer_capacity_) {
    buffer_capacity_ = std::max(needed, buffer_capacity_ * 2);
    buffer_ = std::make_unique<char[]>(buffer_capacity_);
  }
  std::memcpy(buffer_.get(), body.data(), body.size());
  std::memset(buffer_.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);

  const std::string_view shape = "body must be a JSON object {\"records\": [...]}";
  od::document doc;
  if (auto err = json_->parser.iterate(buffer_.get(), body.size(), buffer_capacity_).get(doc)) return invalid_json(err);
  od::object root;
  if (auto err = doc.get_object().get(root)) return err == simdjson::INCORRECT_TYPE ? malformed(std::string(shape)) : invalid_json(err);

  const RecordRules rules{limits_, now + limits_.max_future_ms,
                          limits_.max_age_ms > 0 ? now - limits_.max_age_ms : std::numeric_limits<int64_t>::min()};
  bool saw_records = false;
  for (auto root_field : root) {
    std::string_view key;
    if (auto err = root_field.unescaped_key().get(key)) return invalid_json(err);
    if (key != "records") {  // unknown top-level fields are ignored, but must be JSON
      od::value v;
      if (auto err = root_field.value().get(v)) return invalid_json(err);
      if (auto err = validate_value(v))
        return malformed(fmt::format("invalid JSON in \"{}\": {}", key, simdjson::error_message(err)));
      continue;
    }
    if (saw_records) return malformed("duplicate \"records\" field");
    saw_records = true;
    od::array records;
    if (auto err = root_field.value().get_array().get(records))
      return err == simdjson::INCORRECT_TYPE ? malformed("\"records\" must be an array") : invalid_json(err);
    uint32_t index = 0;
    for (auto element : records) {
      od::value value;
      if (auto err = element.get(value)) return invalid_json(err);
      if (index >= limits_.max_records)
        return FeedParseResult{FeedParseStatus::too_many_records,
                               fmt::format("more than {} records in one request", limits_.max_records)};
      if (Malformed m = read_record(value, index++, rules, out)) return *m;
    }
    out.total = index;
  }
  const char* trailing = nullptr;
  if (!doc.current_location().get(trailing)) return malformed("invalid JSON: trailing content after the body");
  if (!saw_records) return malformed(std::string(shape));
  return {};
}

}  // namespace nordiq
