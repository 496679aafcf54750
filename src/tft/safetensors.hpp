// safetensors: the self-describing tensor file used for models and golden test data.
// Layout: u64 little-endian header length N, N bytes of JSON header, then the raw data block.
// Header entries: {"dtype": "F32"|"I64", "shape": [...], "data_offsets": [begin, end]}, plus
// an optional "__metadata__" object of string → string (our manifest lives in "config").
// Reading validates every entry (dtype, shape × element size = byte range, range inside the data
// block) so a corrupt file fails here with the tensor's name, never later with garbage.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace nordiq::tft {

enum class DType { F32, I64 };

struct TensorInfo {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offset inside the data block
  size_t end = 0;
  size_t numel() const;
};

std::string shape_str(std::span<const int64_t> shape);

class SafeTensors {
 public:
  // Throws std::runtime_error naming the file and the offending tensor/field.
  static SafeTensors load(const std::string& path);
  static SafeTensors parse(std::vector<uint8_t> bytes, const std::string& what = "<memory>");

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws "missing tensor 'x'"
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies (the data block is not necessarily aligned for direct float access).
  std::vector<float> f32(const std::string& name) const;
  std::vector<int64_t> i64(const std::string& name) const;
  void copy_f32(const std::string& name, float* dst) const;
  const std::string& source() const { return what_; }

 private:
  std::string what_;
  std::vector<uint8_t> bytes_;
  size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writer: collect tensors, then write them back to back in name order (as the golden files are).
class SafeTensorsWriter {
 public:
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void add_f32(const std::string& name, std::vector<int64_t> shape, std::span<const float> data);
  void add_i64(const std::string& name, std::vector<int64_t> shape, std::span<const int64_t> data);
  std::vector<uint8_t> bytes() const;
  void write(const std::string& path) const;  // throws on I/O error

 private:
  struct Entry { DType dtype; std::vector<int64_t> shape; std::vector<uint8_t> data; };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace nordiq::tft
