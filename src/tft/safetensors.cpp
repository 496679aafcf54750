#include "tft/safetensors.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace nordiq::tft {
namespace {

size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }
const char* dtype_name(DType t) { return t == DType::F32 ? "F32" : "I64"; }

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw std::runtime_error(fmt::format("{}: {}", what, msg));
}

}  // namespace

size_t TensorInfo::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafeTensors SafeTensors::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, "cannot open file");
  f.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(f.tellg());
  f.seekg(0);
  std::vector<uint8_t> bytes(size);
  if (size && !f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    fail(path, "read error");
  return parse(std::move(bytes), path);
}

SafeTensors SafeTensors::parse(std::vector<uint8_t> bytes, const std::string& what) {
  SafeTensors st;
  st.what_ = what;
  if (bytes.size() < 8) fail(what, "not a safetensors file (shorter than 8 bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<size_t>(i)];
  if (n > bytes.size() - 8) fail(what, fmt::format("header length {} exceeds the file size {}", n, bytes.size()));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  } catch (const std::exception& e) {
    fail(what, fmt::format("header is not valid JSON: {}", e.what()));
  }
  if (!header.is_object()) fail(what, "header is not a JSON object");
  st.data_start_ = 8 + n;
  const size_t data_size = bytes.size() - st.data_start_;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(what, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(what, fmt::format("__metadata__ entry '{}' is not a string", m.key()));
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& msg) { fail(what, fmt::format("tensor '{}': {}", name, msg)); };
    if (!v.is_object()) bad("entry is not an object");
    TensorInfo info;
    const auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) bad("missing dtype");
    if (*dt == "F32") info.dtype = DType::F32;
    else if (*dt == "I64") info.dtype = DType::I64;
    else bad(fmt::format("unsupported dtype {} (only F32 and I64)", dt->get<std::string>()));
    const auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) bad("missing shape");
    size_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) bad("shape has a non-integer or negative dimension");
      info.shape.push_back(d.get<int64_t>());
      numel *= static_cast<size_t>(info.shape.back());
      if (numel > data_size) bad("shape exceeds the data block");
    }
    const auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      bad("data_offsets must be two non-negative integers");
    info.begin = (*off)[0].get<size_t>();
    info.end = (*off)[1].get<size_t>();
    if (info.begin > info.end || info.end > data_size)
      bad(fmt::format("data_offsets [{}, {}] outside the data block of {} bytes", info.begin, info.end, data_size));
    if (info.end - info.begin != numel * dtype_size(info.dtype))
      bad(fmt::format("data_offsets cover {} bytes, shape {} of {} needs {}", info.end - info.begin,
                      shape_str(info.shape), dtype_name(info.dtype), numel * dtype_size(info.dtype)));
    st.tensors_.emplace(name, std::move(info));
  }
  st.bytes_ = std::move(bytes);
  return st;
}

const TensorInfo& SafeTensors::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(what_, fmt::format("missing tensor '{}'", name));
  return it->second;
}

void SafeTensors::copy_f32(const std::string& name, float* dst) const {
  const auto& t = info(name);
  if (t.dtype != DType::F32) fail(what_, fmt::format("tensor '{}': expected dtype F32, got I64", name));
  std::memcpy(dst, bytes_.data() + data_start_ + t.begin, t.end - t.begin);
}

std::vector<float> SafeTensors::f32(const std::string& name) const {
  std::vector<float> v(info(name).numel());
  copy_f32(name, v.data());
  return v;
}

std::vector<int64_t> SafeTensors::i64(const std::string& name) const {
  const auto& t = info(name);
  if (t.dtype != DType::I64) fail(what_, fmt::format("tensor '{}': expected dtype I64, got F32", name));
  std::vector<int64_t> v(t.numel());
  std::memcpy(v.data(), bytes_.data() + data_start_ + t.begin, t.end - t.begin);
  return v;
}

// ---- writer ---------------------------------------------------------------------------------

namespace {
size_t checked_numel(const std::string& name, const std::vector<int64_t>& shape, size_t have) {
  size_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument(fmt::format("tensor '{}': negative dimension", name));
    n *= static_cast<size_t>(d);
  }
  if (n != have)
    throw std::invalid_argument(fmt::format("tensor '{}': shape {} needs {} values, got {}", name, shape_str(shape), n, have));
  return n;
}
}  // namespace

void SafeTensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape, std::span<const float> data) {
  checked_numel(name, shape, data.size());
  Entry e{DType::F32, std::move(shape), std::vector<uint8_t>(data.size_bytes())};
  std::memcpy(e.data.data(), data.data(), data.size_bytes());
  entries_[name] = std::move(e);
}

void SafeTensorsWriter::add_i64(const std::string& name, std::vector<int64_t> shape, std::span<const int64_t> data) {
  checked_numel(name, shape, data.size());
  Entry e{DType::I64, std::move(shape), std::vector<uint8_t>(data.size_bytes())};
  std::memcpy(e.data.data(), data.data(), data.size_bytes());
  entries_[name] = std::move(e);
}

std::vector<uint8_t> SafeTensorsWriter::bytes() const {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  size_t offset = 0;
  for (const auto& [name, e] : entries_) {
    header[name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.data.size()}}};
    offset += e.data.size();
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  std::vector<uint8_t> out(8 + h.size() + offset);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, h.data(), h.size());
  size_t pos = 8 + h.size();
  for (const auto& [name, e] : entries_) {
    if (!e.data.empty()) std::memcpy(out.data() + pos, e.data.data(), e.data.size());
    pos += e.data.size();
  }
  return out;
}

void SafeTensorsWriter::write(const std::string& path) const {
  const auto b = bytes();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error(fmt::format("{}: cannot open for writing", path));
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw std::runtime_error(fmt::format("{}: write error", path));
}

}  // namespace nordiq::tft
