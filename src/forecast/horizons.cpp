#include "forecast/horizons.hpp"

namespace nordiq::forecast {

std::array<StepBand, kNumEvalHorizons> horizon_bands(int64_t step_ms, int horizon) {
  std::array<StepBand, kNumEvalHorizons> bands{};
  int first = 0;
  for (int h = 0; h < kNumEvalHorizons; ++h) {
    const int64_t ms = kEvalHorizons[h].ms;
    if (step_ms <= 0 || ms % step_ms != 0 || ms / step_ms > horizon) continue;
    const int end = static_cast<int>(ms / step_ms);
    bands[h] = {first, end};
    first = end;
  }
  return bands;
}

}  // namespace nordiq::forecast
