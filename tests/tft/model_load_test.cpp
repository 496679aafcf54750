// Model files: strict validation with messages naming the tensor / field; save/load round trip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "test_util.hpp"

namespace nordiq::tft {
namespace {

std::string load_error(const std::string& path) {
  try {
    load_model_file(path);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

class TftModelFile : public ::testing::Test {
 protected:
  SafeTensors tiny = SafeTensors::load(testing::golden("tft_tiny.safetensors"));
  std::string path = testing::temp_path("model.safetensors");
  void TearDown() override { std::remove(path.c_str()); }
};

TEST_F(TftModelFile, WrongTensorShapeIsRefusedNamingTheTensor) {
  testing::rewrite(tiny, path, [](const std::string& n, std::vector<int64_t>& shape, std::vector<float>& data) {
    if (n == "w.lstm_encoder.weight_hh_l0") {
      shape = {64, 8};
      data.resize(64 * 8);
    }
    return true;
  });
  EXPECT_NE(load_error(path).find("tensor 'lstm_encoder.weight_hh_l0': expected shape [64, 16], got [64, 8]"), std::string::npos)
      << load_error(path);
}

TEST_F(TftModelFile, MissingTensorIsNamed) {
  testing::rewrite(tiny, path, [](const std::string& n, std::vector<int64_t>&, std::vector<float>&) {
    return n != "w.multihead_attn.w_h.weight";
  });
  EXPECT_NE(load_error(path).find("missing tensor 'multihead_attn.w_h.weight'"), std::string::npos) << load_error(path);
}

TEST_F(TftModelFile, AliasCopyThatDiffersIsRefused) {
  testing::rewrite(tiny, path, [](const std::string& n, std::vector<int64_t>&, std::vector<float>& data) {
    if (n == "w.decoder_variable_selection.prescalers.hour_sin.bias") data[0] += 1.0f;
    return true;
  });
  EXPECT_NE(load_error(path).find("'decoder_variable_selection.prescalers.hour_sin.bias'"), std::string::npos) << load_error(path);
}

TEST_F(TftModelFile, NonFiniteOrAbsurdWeightsAreRefusedNamingTheTensorAndElement) {
  for (float bad : {std::nanf(""), INFINITY, -3e9f}) {
    testing::rewrite(tiny, path, [bad](const std::string& n, std::vector<int64_t>&, std::vector<float>& data) {
      if (n == "w.multihead_attn.w_h.weight") data[7] = bad;
      return true;
    });
    const std::string error = load_error(path);
    EXPECT_NE(error.find("tensor 'multihead_attn.w_h.weight': element 7 is"), std::string::npos) << bad << ": " << error;
  }
}

TEST_F(TftModelFile, ManifestArchitectureErrorsNameTheField) {
  auto manifest = read_manifest(tiny);
  manifest["model"]["attention_head_size"] = 3;
  EXPECT_THROW(
      {
        try {
          ModelConfig::from_manifest(manifest);
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("attention_head_size"), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);
  manifest = read_manifest(tiny);
  manifest["model"].erase("hidden_size");
  try {
    ModelConfig::from_manifest(manifest);
    FAIL() << "accepted a manifest without hidden_size";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model.hidden_size"), std::string::npos) << e.what();
  }
}

TEST_F(TftModelFile, TableHasThe1004NamesAndTheDocumentedUniqueCounts) {
  auto m = load_model(tiny);
  EXPECT_EQ(m->table().specs().size(), 1004u);
  size_t aliases = 0;
  for (const auto& s : m->table().specs()) aliases += s.alias_of >= 0;
  EXPECT_EQ(aliases, 118u);
  EXPECT_EQ(m->table().unique_count(), 55697u);
  auto medium = load_model_file(testing::golden("tft_medium.safetensors"));
  EXPECT_EQ(medium->table().unique_count(), 647561u);
}

TEST_F(TftModelFile, SavedModelLoadsBackBitIdenticalAndRefusesExtraTensors) {
  auto m = load_model(tiny);
  auto manifest = read_manifest(tiny);
  manifest["format"] = "nordiq-tft-model";
  m->set_manifest(manifest);
  m->save(path);
  auto back = load_model_file(path);
  ASSERT_EQ(back->table().total(), m->table().total());
  EXPECT_EQ(0, std::memcmp(back->params(), m->params(), m->table().total() * sizeof(float)));
  EXPECT_EQ(back->manifest()["set"], "tft_tiny");
  const auto saved = SafeTensors::load(path);
  EXPECT_EQ(saved.tensors().size(), 1004u);
  testing::rewrite(saved, path, [](const std::string&, std::vector<int64_t>&, std::vector<float>&) { return true; });
  {
    SafeTensorsWriter w;
    const auto f = SafeTensors::load(path);
    for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
    for (const auto& [name, info] : f.tensors()) w.add_f32(name, info.shape, f.f32(name));
    std::vector<float> extra(3, 1.0f);
    w.add_f32("surprise.weight", {3}, extra);
    w.write(path);
  }
  EXPECT_NE(load_error(path).find("unexpected tensor 'surprise.weight'"), std::string::npos) << load_error(path);
}

TEST(TftSafeTensors, CorruptFilesFailWithTheReason) {
  SafeTensorsWriter w;
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  w.add_f32("a", {2, 3}, x);
  std::vector<int64_t> y = {7, -8};
  w.add_i64("b", {2}, y);
  w.set_metadata("config", "{}");
  auto bytes = w.bytes();
  const auto ok = SafeTensors::parse(bytes);
  EXPECT_EQ(ok.f32("a"), x);
  EXPECT_EQ(ok.i64("b"), y);
  EXPECT_EQ(ok.metadata().at("config"), "{}");

  auto err = [](std::vector<uint8_t> b) {
    try {
      SafeTensors::parse(std::move(b), "t");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err({1, 2, 3}).find("shorter than 8 bytes"), std::string::npos);
  auto truncated = bytes;
  truncated.resize(truncated.size() - 4);
  EXPECT_NE(err(truncated).find("tensor 'b'"), std::string::npos) << err(truncated);
  auto huge = bytes;
  huge[6] = 0x7f;
  EXPECT_NE(err(huge).find("header length"), std::string::npos);
  EXPECT_THROW(ok.i64("a"), std::runtime_error);
  try {
    ok.f32("nope");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'nope'"), std::string::npos);
  }
}

}  // namespace
}  // namespace nordiq::tft
