#include "forecast/contract.hpp"

namespace nordiq::forecast {

namespace {

InputContract build(InputSet inputs) {
  InputContract c;
  c.x_categoricals = {"profile", "status"};
  const std::vector<std::string> time_known = {"hour_sin", "hour_cos", "dow_sin", "dow_cos",
                                               "is_weekend", "is_business_hours", "relative_time_idx"};
  std::vector<std::string> decoder_only;
  for (const auto& m : kMetrics) c.targets.emplace_back(m.name);
  std::vector<const char*> suffixes;
  if (inputs != InputSet::base) suffixes = {"_lag_day", "_trend"};
  if (inputs == InputSet::anchored) suffixes.push_back("_anchor");
  if (inputs == InputSet::hourly) suffixes.push_back("_hourly");
  for (const char* suffix : suffixes)
    for (const auto& t : c.targets) decoder_only.push_back(t + suffix);
  if (inputs == InputSet::hourly) decoder_only.insert(decoder_only.end(), {"minute_sin", "minute_cos"});
  c.x_reals = {"encoder_length"};
  c.static_variables = {"profile", "encoder_length"};
  for (const auto& t : c.targets) {
    for (const char* suffix : {"_center", "_scale"}) {
      c.x_reals.push_back(t + suffix);
      c.static_variables.push_back(t + suffix);
    }
  }
  for (const auto& k : time_known) c.x_reals.push_back(k);
  for (const auto& t : c.targets) c.x_reals.push_back(t);
  for (const auto& l : decoder_only) c.x_reals.push_back(l);

  c.known_reals = time_known;
  c.known_reals.insert(c.known_reals.end(), decoder_only.begin(), decoder_only.end());
  c.encoder_variables = {"status"};
  c.encoder_variables.insert(c.encoder_variables.end(), time_known.begin(), time_known.end());
  c.encoder_variables.insert(c.encoder_variables.end(), c.targets.begin(), c.targets.end());
  c.decoder_variables = c.known_reals;
  return c;
}

}  // namespace

const InputContract& input_contract(InputSet inputs) {
  static const InputContract anchored = build(InputSet::anchored), hourly = build(InputSet::hourly),
                             decoder = build(InputSet::decoder), base = build(InputSet::base);
  switch (inputs) {
    case InputSet::anchored: return anchored;
    case InputSet::hourly: return hourly;
    case InputSet::decoder: return decoder;
    case InputSet::base: break;
  }
  return base;
}

}  // namespace nordiq::forecast
