// Model files: any bytes are either a model that loads completely or a std::exception naming what
// is wrong (SPEC: a bad model file names the bad tensor); never a crash, an out-of-bounds read or a
// huge allocation from a lying header.
#include <cstdint>
#include <exception>
#include <vector>

#include "tft/model.hpp"
#include "tft/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = nordiq::tft::SafeTensors::parse(std::vector<uint8_t>(data, data + size), "<fuzz>");
    for (const auto& [name, info] : file.tensors())
      if (info.dtype == nordiq::tft::DType::F32) (void)file.f32(name);
    (void)nordiq::tft::load_model(file);
  } catch (const std::exception&) {
  }
  return 0;
}
