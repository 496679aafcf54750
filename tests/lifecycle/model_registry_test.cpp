// Model names resolve only inside the models dir; the registry lists what is there, broken
// models included; loading validates the model against the daemon's step.
#include <gtest/gtest.h>

#include <fstream>
#include <stdlib.h>

#include "lifecycle/model_registry.hpp"

namespace nordiq::lifecycle {
namespace {

namespace fs = std::filesystem;
const fs::path kShipped = fs::path(NORDIQ_SOURCE_DIR) / "models" / "default" / "model.safetensors";

struct TempModels {
  fs::path root;
  TempModels() {
    std::string tmpl = (fs::temp_directory_path() / "nordiq-models-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    root = tmpl;
    fs::create_directories(root / "models");
  }
  ~TempModels() { fs::remove_all(root); }
  fs::path models() const { return root / "models"; }
  void install(const std::string& name) {
    fs::create_directories(models() / name);
    fs::copy_file(kShipped, models() / name / "model.safetensors");
  }
};

TEST(ModelNames, OnlyPlainNamesAreModelNames) {
  for (const char* ok : {"default", "trained-20261204T101500Z", "a", "v1.2_b"}) EXPECT_TRUE(is_model_name(ok)) << ok;
  for (const char* bad : {"", ".", "..", "../x", "a/b", "/etc", ".hidden", "-x", "a b", "a\\b"})
    EXPECT_FALSE(is_model_name(bad)) << bad;
  EXPECT_FALSE(is_model_name(std::string(65, 'a')));
}

TEST(ModelFile, ResolvesInsideTheModelsDirAndRefusesEverythingElse) {
  TempModels t;
  t.install("good");
  EXPECT_EQ(model_file(t.models(), "good"), t.models() / "good" / "model.safetensors");
  EXPECT_THROW(model_file(t.models(), "../good"), ModelNameError);
  EXPECT_THROW(model_file(t.models(), "absent"), ModelNotFound);
  fs::create_directories(t.root / "outside");
  fs::copy_file(kShipped, t.root / "outside" / "model.safetensors");
  fs::create_directory_symlink(t.root / "outside", t.models() / "escape");
  EXPECT_THROW(model_file(t.models(), "escape"), ModelNameError);
}

TEST(Registry, ListsEveryModelWithItsSummaryAndMarksTheCurrentOne) {
  TempModels t;
  t.install("b");
  t.install("a");
  fs::create_directories(t.models() / "broken");
  std::ofstream(t.models() / "broken" / "model.safetensors") << "garbage";
  fs::create_directories(t.models() / "empty-dir");
  const auto list = list_models(t.models(), "b");
  ASSERT_EQ(list.size(), 3u) << list.dump();
  EXPECT_EQ(list[0]["name"], "a");
  EXPECT_FALSE(list[0]["current"].get<bool>());
  EXPECT_TRUE(list[0]["validation_loss"].is_number());
  EXPECT_GT(list[0]["bytes"].get<int64_t>(), 0);
  EXPECT_EQ(list[1]["name"], "b");
  EXPECT_TRUE(list[1]["current"].get<bool>());
  EXPECT_EQ(list[2]["name"], "broken");
  EXPECT_TRUE(list[2].contains("error")) << list[2].dump();
}

TEST(LoadValidatedModel, RefusesAModelTrainedOnAnotherStep) {
  EXPECT_NO_THROW(load_validated_model(kShipped, 300));
  try {
    load_validated_model(kShipped, 60);
    FAIL() << "a 300 s model must not serve a 60 s daemon";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("step_seconds"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nordiq::lifecycle
