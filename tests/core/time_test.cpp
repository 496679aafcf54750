#include <gtest/gtest.h>

#include "core/time.hpp"

using namespace nordiq;

TEST(Iso8601, NaiveTimestampIsUtc) {
  EXPECT_EQ(parse_iso8601("2025-01-15T10:00:00"), 1736935200000LL);
  EXPECT_EQ(parse_iso8601("2025-01-15T10:00:00Z"), 1736935200000LL);
}

TEST(Iso8601, OffsetsAreConvertedToUtc) {
  EXPECT_EQ(parse_iso8601("2025-01-15T12:00:00+02:00"), 1736935200000LL);
  EXPECT_EQ(parse_iso8601("2025-01-15T05:30:00-0430"), 1736935200000LL);
}

TEST(Iso8601, FractionKeepsMilliseconds) {
  EXPECT_EQ(parse_iso8601("2025-01-15T10:00:00.25Z"), 1736935200250LL);
  EXPECT_EQ(parse_iso8601("2025-01-15T10:00:00.123456789"), 1736935200123LL);
}

TEST(Iso8601, RejectsMalformedAndOutOfRangeFields) {
  for (const char* bad : {"", "2025-01-15", "2025-13-01T00:00:00", "2025-02-30T00:00:00",
                          "2025-01-15T24:00:00", "2025-01-15T10:00:00X", "2025-01-15T10:00:00.",
                          "yesterday", "2025-01-15T10:00:00+25:00", "2025/01/15T10:00:00"})
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
  EXPECT_TRUE(parse_iso8601("2024-02-29T00:00:00").has_value());
}

TEST(Iso8601, FormatRoundTrips) {
  EXPECT_EQ(format_iso8601(1736935200000LL), "2025-01-15T10:00:00Z");
  EXPECT_EQ(format_iso8601(1736935200250LL), "2025-01-15T10:00:00.250Z");
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
  for (EpochMs t : {0LL, 951782400000LL, 4102444799000LL})
    EXPECT_EQ(parse_iso8601(format_iso8601(t)), t);
}
