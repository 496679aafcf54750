// The horizon bands forecasts are judged by, in evaluation (`nordiq eval`) and in serving (the
// online accuracy tracker, forecast/skill_tracker.hpp): +5 min, then up to +30 min, +1 h, +4 h,
// +8 h. One definition, so what `nordiq eval` reports per horizon is what `/drift/status` shows.
#pragma once

#include <array>
#include <cstdint>

namespace nordiq::forecast {

// The horizons reported on their own: label and distance from the origin.
struct EvalHorizon {
  const char* label;
  int64_t ms;
};
inline constexpr EvalHorizon kEvalHorizons[] = {
    {"5m", 300'000}, {"30m", 1'800'000}, {"1h", 3'600'000}, {"4h", 14'400'000}, {"8h", 28'800'000}};
inline constexpr int kNumEvalHorizons = 5;

// The forecast steps [first, end) of each horizon band for a step of step_ms: end = the number
// of steps within the horizon's distance, first = the previous band's end (0 for the first).
// {−1, −1} where the distance is not a whole number of steps or lies beyond `horizon` steps.
struct StepBand {
  int first = -1, end = -1;
  bool valid() const { return end > 0; }
  bool operator==(const StepBand&) const = default;
};
std::array<StepBand, kNumEvalHorizons> horizon_bands(int64_t step_ms, int horizon);

}  // namespace nordiq::forecast
