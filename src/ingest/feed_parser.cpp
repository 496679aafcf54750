#include "ingest/feed_parser.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>

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

  auto malformed = [](std::string message) {
    return FeedParseResult{FeedParseStatus::malformed, std::move(message)};
  };
  const std::string_view shape = "body must be a JSON object {\"records\": [...]}";

  od::document doc;
  if (auto err = json_->parser.iterate(buffer_.get(), body.size(), buffer_capacity_).get(doc))
    return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  od::object root;
  if (auto err = doc.get_object().get(root))
    return malformed(err == simdjson::INCORRECT_TYPE
                         ? std::string(shape)
                         : fmt::format("invalid JSON: {}", simdjson::error_message(err)));

  const int64_t latest_allowed = now + limits_.max_future_ms;
  const int64_t oldest_allowed =
      limits_.max_age_ms > 0 ? now - limits_.max_age_ms : std::numeric_limits<int64_t>::min();
  bool saw_records = false;

  for (auto root_field : root) {
    std::string_view key;
    if (auto err = root_field.unescaped_key().get(key))
      return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
    if (key != "records") {  // unknown top-level fields are ignored, but must be JSON
      od::value v;
      if (auto err = root_field.value().get(v)) return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
      if (auto err = validate_value(v))
        return malformed(fmt::format("invalid JSON in \"{}\": {}", key, simdjson::error_message(err)));
      continue;
    }
    if (saw_records) return malformed("duplicate \"records\" field");
    saw_records = true;
    od::array records;
    if (auto err = root_field.value().get_array().get(records))
      return malformed(err == simdjson::INCORRECT_TYPE
                           ? std::string("\"records\" must be an array")
                           : fmt::format("invalid JSON: {}", simdjson::error_message(err)));

    uint32_t index = 0;
    for (auto element : records) {
      od::value value;
      if (auto err = element.get(value))
        return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
      if (index >= limits_.max_records)
        return FeedParseResult{FeedParseStatus::too_many_records,
                               fmt::format("more than {} records in one request",
                                           limits_.max_records)};
      const uint32_t i = index++;
      const size_t errors_before = out.error_count;
      auto reject = [&](int slot, std::string_view kind, auto&& make_message) {
        out.add_error(i, kFieldNames[slot], kind, make_message);
      };

      od::object obj;
      if (auto err = value.get_object().get(obj)) {
        if (err != simdjson::INCORRECT_TYPE)
          return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
        out.add_error(i, "record", "not_an_object", [] { return std::string("must be a JSON object"); });
        ++out.rejected;
        continue;
      }

      FeedRecord rec;
      rec.index = i;
      uint32_t seen = 0;
      std::string_view name;
      for (auto field : obj) {
        std::string_view fkey;
        if (auto err = field.unescaped_key().get(fkey))
          return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
        const int slot = field_slot(fkey);
        if (slot < 0) {  // unknown fields are ignored, never stored, but must be JSON
          od::value ignored;
          if (auto err = field.value().get(ignored))
            return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
          if (auto err = validate_value(ignored))
            return malformed(fmt::format("invalid JSON in record {} field \"{}\": {}", i, clip(fkey),
                                         simdjson::error_message(err)));
          continue;
        }
        seen |= 1u << slot;
        od::value v;
        if (auto err = field.value().get(v))
          return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
        od::json_type type;
        if (v.type().get(type)) {
          // Not a JSON value start: NaN/Infinity literals some encoders emit. Reject the field.
          std::string_view raw = v.raw_json_token();
          while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\t' ||
                                  raw.back() == '\r'))
            raw.remove_suffix(1);
          reject(slot, "not_finite", [&] { return fmt::format("must be a finite number, got {}", clip(raw)); });
          continue;
        }

        if (slot < kNumMetrics) {
          const MetricSpec& spec = kMetrics[slot];
          if (type != od::json_type::number) {
            reject(slot, "wrong_type", [&] { return fmt::format("must be {}, got {}", spec.integer ? "an integer" : "a number",
                                     json_type_name(type)); });
            continue;
          }
          double d;
          if (v.get_double().get(d) || !std::isfinite(d)) {
            reject(slot, "not_finite", [&] { return fmt::format("must be a finite number, got {}", clip(v.raw_json_token())); });
            continue;
          }
          if (spec.integer && d != std::floor(d)) {
            reject(slot, "not_integer", [&] { return fmt::format("must be an integer, got {}", d); });
            continue;
          }
          if (d < spec.min || d > spec.max) {
            if (spec.max == kUnbounded)
              reject(slot, "out_of_range", [&] { return fmt::format("must be >= {}, got {}", spec.min, d); });
            else
              reject(slot, "out_of_range", [&] { return fmt::format("must be between {} and {}, got {}", spec.min, spec.max, d); });
            continue;
          }
          rec.values[slot] = d;
          continue;
        }

        if (slot == kFieldProfile && type == od::json_type::null) {
          seen &= ~(1u << slot);  // "profile": null = no override
          continue;
        }
        if (type != od::json_type::string) {
          reject(slot, "wrong_type", [&] { return fmt::format("must be a string, got {}", json_type_name(type)); });
          continue;
        }
        std::string_view text;
        if (auto err = v.get_string().get(text)) {
          if (err != simdjson::INCORRECT_TYPE)
            return malformed(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
          reject(slot, "invalid_string", [] { return std::string("must be a valid string"); });
          continue;
        }
        switch (slot) {
          case kFieldTimestamp: {
            auto t = parse_iso8601(text);
            if (!t) {
              reject(slot, "bad_timestamp", [&] { return fmt::format("must be an ISO-8601 timestamp, got '{}'", clip(text)); });
            } else if (*t > latest_allowed) {
              reject(slot, "in_future", [&] { return fmt::format("is more than 5 minutes in the future: '{}'", clip(text)); });
            } else if (*t < oldest_allowed) {
              reject(slot, "too_old", [&] { return fmt::format("is older than the retention period: '{}'", clip(text)); });
            } else {
              rec.timestamp = *t;
            }
            break;
          }
          case kFieldServerName:
            if (!valid_server_name(text, limits_.max_name_length))
              reject(slot, "bad_name", [&] { return fmt::format("must match [A-Za-z0-9._-]{{1,{}}}, got '{}'",
                                       limits_.max_name_length, clip(text)); });
            else
              name = text;  // lives in the parser's string buffer until the next parse
            break;
          case kFieldStatus:
            if (auto st = status_from_name(text))
              rec.status = *st;
            else
              reject(slot, "unknown_value", [&] { return fmt::format("must be one of {}, got '{}'", status_choices(), clip(text)); });
            break;
          case kFieldProfile:
            if (auto p = profile_from_id(text))
              rec.profile = static_cast<int8_t>(*p);
            else
              reject(slot, "unknown_value", [&] { return fmt::format("must be one of {}, got '{}'", profile_choices(), clip(text)); });
            break;
        }
      }
      for (int slot = 0; slot < kNumFields; ++slot)
        if ((kRequiredMask >> slot & 1u) && !(seen >> slot & 1u)) reject(slot, "required", [] { return std::string("is required"); });

      if (out.error_count != errors_before) {
        ++out.rejected;
        continue;
      }
      rec.name_offset = static_cast<uint32_t>(out.names.size());
      rec.name_length = static_cast<uint32_t>(name.size());
      out.names.append(name);
      out.records.push_back(rec);
    }
    out.total = index;
  }
  const char* trailing = nullptr;
  if (!doc.current_location().get(trailing)) return malformed("invalid JSON: trailing content after the body");
  if (!saw_records) return malformed(std::string(shape));
  return {};
}

}  // namespace nordiq
