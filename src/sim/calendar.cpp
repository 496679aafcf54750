#include "sim/calendar.hpp"

#include <cmath>

#include "sim/tables.hpp"

namespace nordiq::sim {

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

double band_value(const ProfileBase& b, int hour) {
  if (hour <= 6) return b.diurnal[0];
  if (hour <= 8) return b.diurnal[1];
  if (hour <= 15) return b.diurnal[2];
  if (hour <= 18) return b.diurnal[3];
  if (hour <= 20) return b.diurnal[4];
  return b.diurnal[5];
}

}  // namespace

int64_t week_of(EpochMs t) { return floor_div(t - kFirstMondayMs, kWeekMs); }

double diurnal_factor(Profile p, EpochMs t) {
  const auto& b = profile_base(p);
  const int64_t tod = t - floor_div(t, kDayMs) * kDayMs;
  // x = hours since the 00:30 knot; the knots are at h:30.
  const double x = static_cast<double>(tod) / 3'600'000.0 - 0.5;
  const double fl = std::floor(x);
  const double frac = x - fl;
  const int h0 = (static_cast<int>(fl) + 24) % 24;
  const int h1 = (h0 + 1) % 24;
  return band_value(b, h0) * (1.0 - frac) + band_value(b, h1) * frac;
}

double weekly_factor(Profile p, EpochMs t) {
  const double w = profile_base(p).weekend;
  if (w == 1.0) return 1.0;
  constexpr int64_t hour = 3'600'000;
  const int64_t tw = t - week_start(week_of(t));  // ms since Monday 00:00
  const int64_t sat = 5 * kDayMs;
  const int64_t next_mon = 7 * kDayMs;
  if (tw < hour) return w + (1.0 - w) * static_cast<double>(tw + hour) / (2.0 * hour);
  if (tw < sat - hour) return 1.0;
  if (tw < sat + hour) return 1.0 + (w - 1.0) * static_cast<double>(tw - (sat - hour)) / (2.0 * hour);
  if (tw < next_mon - hour) return w;
  return w + (1.0 - w) * static_cast<double>(tw - (next_mon - hour)) / (2.0 * hour);
}

StepClock make_step_clock(EpochMs start, int64_t step_ms, int64_t k) {
  StepClock c;
  c.k = k;
  c.t = start + k * step_ms;
  c.abs_step = floor_div(c.t, step_ms);
  const int64_t day = floor_div(c.t, kDayMs);
  const int64_t tod = c.t - day * kDayMs;
  c.hour = static_cast<int>(tod / 3'600'000);
  c.weekday = static_cast<int>(((day - 4) % 7 + 7) % 7);
  c.week = week_of(c.t);
  c.cleanup = tod >= 7'200'000 && tod - step_ms < 7'200'000;
  for (int p = 0; p < kNumProfiles; ++p) {
    const auto prof = static_cast<Profile>(p);
    c.F[p] = diurnal_factor(prof, c.t) * weekly_factor(prof, c.t);
  }
  return c;
}

}  // namespace nordiq::sim
