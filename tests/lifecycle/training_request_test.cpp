// The body of POST /admin/trigger-training: defaults, and errors that name the field.
#include <gtest/gtest.h>

#include "lifecycle/training_job.hpp"

namespace nordiq::lifecycle {
namespace {

using nlohmann::json;

std::string error_of(const json& body) {
  try {
    parse_training_request(body);
  } catch (const TrainingRequestError& e) {
    return e.what();
  }
  return "";
}

TEST(TrainingRequest, AnEmptyBodyGetsTheDefaults) {
  const TrainingRequest r = parse_training_request(json::object());
  EXPECT_EQ(r.epochs, TrainingRequest{}.epochs);
  EXPECT_EQ(r.days, TrainingRequest{}.days);
  const TrainingRequest s = parse_training_request({{"epochs", 3}, {"days", 10}, {"hidden", 16}});
  EXPECT_EQ(s.epochs, 3);
  EXPECT_EQ(s.days, 10);
  EXPECT_EQ(s.hidden, 16);
}

TEST(TrainingRequest, BadFieldsAreNamed) {
  EXPECT_EQ(error_of({{"epochs", 0}}).rfind("epochs:", 0), 0u);
  EXPECT_EQ(error_of({{"epochs", "5"}}).rfind("epochs:", 0), 0u);
  EXPECT_EQ(error_of({{"days", 1.5}}).rfind("days:", 0), 0u);
  EXPECT_EQ(error_of({{"hidden", 10}}).rfind("hidden:", 0), 0u);
  EXPECT_EQ(error_of({{"days", 3}, {"holdout_days", 3}}).rfind("holdout_days:", 0), 0u);
  EXPECT_EQ(error_of({{"epoch", 3}}).rfind("epoch:", 0), 0u);
  EXPECT_EQ(error_of(json::array()).rfind("body:", 0), 0u);
}

}  // namespace
}  // namespace nordiq::lifecycle
