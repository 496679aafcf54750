#include "tft/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace nordiq::tft {
namespace {

using nlohmann::json;

[[noreturn]] void bad_field(const std::string& field, const std::string& msg) {
  throw std::runtime_error(fmt::format("model manifest: field '{}': {}", field, msg));
}

const json& need(const json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) bad_field(path + key, "missing");
  return *it;
}

int need_int(const json& obj, const std::string& key, const std::string& path, int lo) {
  const json& v = need(obj, key, path);
  if (!v.is_number_integer()) bad_field(path + key, "must be an integer");
  const auto x = v.get<int64_t>();
  if (x < lo || x > 1'000'000) bad_field(path + key, fmt::format("out of range: {}", x));
  return static_cast<int>(x);
}

std::vector<std::string> need_names(const json& obj, const std::string& key, const std::string& path) {
  const json& v = need(obj, key, path);
  if (!v.is_array()) bad_field(path + key, "must be an array of names");
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string()) bad_field(path + key, "must be an array of names");
    out.push_back(s.get<std::string>());
  }
  return out;
}

int index_of(const std::vector<std::string>& v, const std::string& x) {
  auto it = std::find(v.begin(), v.end(), x);
  return it == v.end() ? -1 : static_cast<int>(it - v.begin());
}

}  // namespace

ModelConfig ModelConfig::from_manifest(const json& manifest) {
  if (!manifest.is_object()) bad_field("", "manifest is not a JSON object");
  const json& m = need(manifest, "model", "");
  if (!m.is_object()) bad_field("model", "must be an object");
  const std::string p = "model.";
  ModelConfig c;
  c.hidden = need_int(m, "hidden_size", p, 1);
  c.heads = need_int(m, "attention_head_size", p, 1);
  c.cont_hidden = need_int(m, "hidden_continuous_size", p, 1);
  c.lstm_layers = m.contains("lstm_layers") ? need_int(m, "lstm_layers", p, 1) : 1;
  if (c.lstm_layers != 1) bad_field(p + "lstm_layers", fmt::format("{} layers are not supported (only 1)", c.lstm_layers));
  if (c.hidden % c.heads) bad_field(p + "attention_head_size", fmt::format("hidden_size {} is not divisible by {} heads", c.hidden, c.heads));
  c.head_dim = c.hidden / c.heads;
  if (m.contains("head_dim") && need_int(m, "head_dim", p, 1) != c.head_dim)
    bad_field(p + "head_dim", fmt::format("must be hidden_size / attention_head_size = {}", c.head_dim));
  if (m.contains("layer_norm_eps")) {
    if (!m["layer_norm_eps"].is_number()) bad_field(p + "layer_norm_eps", "must be a number");
    c.layer_norm_eps = m["layer_norm_eps"].get<float>();
  }
  if (manifest.contains("max_encoder_length")) c.max_encoder_length = need_int(manifest, "max_encoder_length", "", 1);
  if (manifest.contains("max_prediction_length")) c.max_prediction_length = need_int(manifest, "max_prediction_length", "", 1);
  c.targets = need_names(m, "targets", p);
  if (c.targets.empty()) bad_field(p + "targets", "must not be empty");
  const json& q = need(m, "quantiles", p);
  if (!q.is_array() || q.empty()) bad_field(p + "quantiles", "must be a non-empty array of numbers");
  for (const auto& x : q) {
    if (!x.is_number()) bad_field(p + "quantiles", "must be a non-empty array of numbers");
    c.quantiles.push_back(x.get<float>());
  }
  c.x_categoricals = need_names(m, "x_categoricals", p);
  c.x_reals = need_names(m, "x_reals", p);
  c.static_variables = need_names(m, "static_variables", p);
  c.encoder_variables = need_names(m, "encoder_variables", p);
  c.decoder_variables = need_names(m, "decoder_variables", p);
  const json& emb = need(m, "embedding_sizes", p);
  if (!emb.is_object()) bad_field(p + "embedding_sizes", "must be an object name → [classes, dim]");
  for (auto it = emb.begin(); it != emb.end(); ++it) {
    const json& v = it.value();
    if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer() ||
        v[0].get<int>() < 1 || v[1].get<int>() < 1)
      bad_field(p + "embedding_sizes." + it.key(), "must be [classes, dim] with positive integers");
    c.embedding_sizes[it.key()] = {v[0].get<int>(), v[1].get<int>()};
  }
  for (const auto& cat : c.x_categoricals)
    if (!c.embedding_sizes.count(cat)) bad_field(p + "embedding_sizes", fmt::format("no entry for categorical '{}'", cat));
  auto check_vars = [&](const std::vector<std::string>& vars, const std::string& field) {
    if (vars.size() < 2) bad_field(p + field, "a variable selection network needs at least 2 variables");
    for (const auto& v : vars)
      if (index_of(c.x_categoricals, v) < 0 && index_of(c.x_reals, v) < 0)
        bad_field(p + field, fmt::format("variable '{}' is neither in x_categoricals nor in x_reals", v));
  };
  check_vars(c.static_variables, "static_variables");
  check_vars(c.encoder_variables, "encoder_variables");
  check_vars(c.decoder_variables, "decoder_variables");
  for (const auto& v : c.decoder_variables)
    if (index_of(c.x_categoricals, v) >= 0)
      bad_field(p + "decoder_variables", fmt::format("known categorical '{}' is not supported", v));
  return c;
}

// ---- parameter table ------------------------------------------------------------------------

size_t ParamTable::add(const std::string& name, std::vector<int64_t> shape) {
  if (index_.count(name)) throw std::logic_error("duplicate parameter " + name);
  ParamSpec s;
  s.name = name;
  s.numel = 1;
  for (auto d : shape) s.numel *= static_cast<size_t>(d);
  s.shape = std::move(shape);
  s.offset = total_;
  total_ += (s.numel + 15) / 16 * 16;  // 64-byte aligned tensors for vector loads
  unique_count_ += s.numel;
  index_[name] = static_cast<int>(specs_.size());
  specs_.push_back(std::move(s));
  return specs_.back().offset;
}

void ParamTable::alias(const std::string& name, const std::string& target) {
  auto it = index_.find(target);
  if (it == index_.end()) throw std::logic_error("alias of unknown parameter " + target);
  ParamSpec s = specs_[static_cast<size_t>(it->second)];
  s.name = name;
  s.alias_of = it->second;
  index_[name] = static_cast<int>(specs_.size());
  specs_.push_back(std::move(s));
}

const ParamSpec* ParamTable::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &specs_[static_cast<size_t>(it->second)];
}

LinearW add_linear(ParamTable& t, const std::string& prefix, int in, int out, bool bias) {
  LinearW l;
  l.in = in;
  l.out = out;
  l.w = t.add(prefix + "weight", {out, in});
  if (bias) l.b = t.add(prefix + "bias", {out});
  return l;
}

LayerNormW add_layer_norm(ParamTable& t, const std::string& prefix, int n) {
  LayerNormW l;
  l.n = n;
  l.w = t.add(prefix + "weight", {n});
  l.b = t.add(prefix + "bias", {n});
  return l;
}

ResampleNormW add_resample_norm(ParamTable& t, const std::string& prefix, int in, int out) {
  ResampleNormW r;
  r.in = in;
  r.out = out;
  r.mask = t.add(prefix + "mask", {out});
  r.norm = add_layer_norm(t, prefix + "norm.", out);
  return r;
}

GateAddNormW add_gate_add_norm(ParamTable& t, const std::string& prefix, int in, int out) {
  GateAddNormW g;
  g.out = out;
  g.glu = add_linear(t, prefix + "glu.fc.", in, 2 * out);
  g.norm = add_layer_norm(t, prefix + "add_norm.norm.", out);
  return g;
}

GrnW add_grn(ParamTable& t, const std::string& prefix, int in, int hidden, int out, int ctx) {
  GrnW g;
  g.in = in;
  g.hidden = hidden;
  g.out = out;
  g.ctx = ctx;
  g.fc1 = add_linear(t, prefix + "fc1.", in, hidden);
  if (ctx > 0) g.context = add_linear(t, prefix + "context.", ctx, hidden, false);
  g.fc2 = add_linear(t, prefix + "fc2.", hidden, hidden);
  g.gate = add_gate_add_norm(t, prefix + "gate_norm.", hidden, out);
  g.resample = in != out;
  if (g.resample) g.res = add_resample_norm(t, prefix + "resample_norm.", in, out);
  return g;
}

// ---- model ----------------------------------------------------------------------------------

namespace {

VsnW build_vsn(ParamTable& t, const ModelConfig& c, const std::string& prefix,
               const std::vector<std::string>& vars, std::map<std::string, LinearW>& prescalers,
               std::map<std::string, size_t>& embeddings, bool context) {
  VsnW v;
  const int H = c.hidden;
  for (const auto& name : vars) {
    VsnVarW var;
    var.name = name;
    var.flat_offset = v.flat_width;
    const int cat = index_of(c.x_categoricals, name);
    if (cat >= 0) {
      var.categorical = true;
      var.source = cat;
      var.classes = c.embedding_sizes.at(name).first;
      var.width = c.embedding_sizes.at(name).second;
      var.embedding = embeddings.at(name);
      var.cat_norm = add_resample_norm(t, prefix + "single_variable_grns." + name + ".", var.width, H);
    } else {
      var.source = index_of(c.x_reals, name);
      var.width = c.cont_hidden;
      var.prescaler = prescalers.at(name);
      t.alias(prefix + "prescalers." + name + ".weight", "prescalers." + name + ".weight");
      t.alias(prefix + "prescalers." + name + ".bias", "prescalers." + name + ".bias");
      var.grn = add_grn(t, prefix + "single_variable_grns." + name + ".", var.width,
                        std::min(c.cont_hidden, H), H, 0);
    }
    v.flat_width += var.width;
    v.vars.push_back(std::move(var));
  }
  const int n = v.n();
  v.flat = add_grn(t, prefix + "flattened_grn.", v.flat_width, std::min(H, n), n, context ? H : 0);
  return v;
}

}  // namespace

Model::Model(ModelConfig config) : config_(std::move(config)) {
  const ModelConfig& c = config_;
  const int H = c.hidden;
  ParamTable& t = table_;
  TftWeights& w = weights_;
  std::map<std::string, size_t> embeddings;
  for (const auto& cat : c.x_categoricals) {
    const auto [classes, dim] = c.embedding_sizes.at(cat);
    embeddings[cat] = t.add("input_embeddings.embeddings." + cat + ".weight", {classes, dim});
  }
  std::map<std::string, LinearW> prescalers;
  for (const auto& r : c.x_reals) prescalers[r] = add_linear(t, "prescalers." + r + ".", 1, c.cont_hidden);
  w.static_vsn = build_vsn(t, c, "static_variable_selection.", c.static_variables, prescalers, embeddings, false);
  w.encoder_vsn = build_vsn(t, c, "encoder_variable_selection.", c.encoder_variables, prescalers, embeddings, true);
  w.decoder_vsn = build_vsn(t, c, "decoder_variable_selection.", c.decoder_variables, prescalers, embeddings, true);
  w.ctx_variable_selection = add_grn(t, "static_context_variable_selection.", H, H, H, 0);
  w.ctx_initial_hidden = add_grn(t, "static_context_initial_hidden_lstm.", H, H, H, 0);
  w.ctx_initial_cell = add_grn(t, "static_context_initial_cell_lstm.", H, H, H, 0);
  w.ctx_enrichment = add_grn(t, "static_context_enrichment.", H, H, H, 0);
  for (auto [lstm, name] : {std::pair{&w.lstm_encoder, "lstm_encoder."}, std::pair{&w.lstm_decoder, "lstm_decoder."}}) {
    lstm->hidden = H;
    lstm->ih.in = lstm->hh.in = H;
    lstm->ih.out = lstm->hh.out = 4 * H;
    lstm->ih.w = t.add(std::string(name) + "weight_ih_l0", {4 * H, H});
    lstm->hh.w = t.add(std::string(name) + "weight_hh_l0", {4 * H, H});
    lstm->ih.b = t.add(std::string(name) + "bias_ih_l0", {4 * H});
    lstm->hh.b = t.add(std::string(name) + "bias_hh_l0", {4 * H});
  }
  w.post_lstm_glu = add_linear(t, "post_lstm_gate_encoder.fc.", H, 2 * H);
  w.post_lstm_norm = add_layer_norm(t, "post_lstm_add_norm_encoder.norm.", H);
  for (const char* s : {"fc.weight", "fc.bias"})
    t.alias(std::string("post_lstm_gate_decoder.") + s, std::string("post_lstm_gate_encoder.") + s);
  for (const char* s : {"norm.weight", "norm.bias"})
    t.alias(std::string("post_lstm_add_norm_decoder.") + s, std::string("post_lstm_add_norm_encoder.") + s);
  w.static_enrichment = add_grn(t, "static_enrichment.", H, H, H, H);
  AttentionW& a = w.attention;
  a.heads = c.heads;
  a.d = c.head_dim;
  a.v = add_linear(t, "multihead_attn.v_layer.", H, a.d);
  for (int i = 0; i < a.heads; ++i) {
    a.q.push_back(add_linear(t, fmt::format("multihead_attn.q_layers.{}.", i), H, a.d));
    a.k.push_back(add_linear(t, fmt::format("multihead_attn.k_layers.{}.", i), H, a.d));
  }
  a.w_h = add_linear(t, "multihead_attn.w_h.", a.d, H, false);
  w.post_attn = add_gate_add_norm(t, "post_attn_gate_norm.", H, H);
  w.pos_wise_ff = add_grn(t, "pos_wise_ff.", H, H, H, 0);
  w.pre_output = add_gate_add_norm(t, "pre_output_gate_norm.", H, H);
  for (int k = 0; k < c.n_targets(); ++k)
    w.output_layers.push_back(add_linear(t, fmt::format("output_layer.{}.", k), H, c.n_quantiles()));
  params_.assign(t.total(), 0.0f);
}

void Model::load_weights(const SafeTensors& file, const std::string& prefix, bool strict_extra) {
  load_params(table_, file, prefix, strict_extra, params_.data());
}

namespace {

// A weight that is NaN, infinite or absurdly large loads "fine" and serves flat or NaN forecasts
// labelled "tft": refuse the file naming the tensor and the element instead.
constexpr float kMaxPlausibleWeight = 1e6f;
void check_plausible(const std::string& name, const float* w, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(w[i]))
      throw std::runtime_error(fmt::format("tensor '{}': element {} is {}", name, i, w[i]));
    if (std::fabs(w[i]) > kMaxPlausibleWeight)
      throw std::runtime_error(fmt::format("tensor '{}': element {} is {:g}, beyond any trained weight (|w| > {:g})",
                                           name, i, w[i], kMaxPlausibleWeight));
  }
}

}  // namespace

void load_params(const ParamTable& table_, const SafeTensors& file, const std::string& prefix, bool strict_extra,
                 float* params) {
  std::vector<std::string> missing;
  for (const auto& s : table_.specs()) {
    const std::string key = prefix + s.name;
    if (!file.has(key)) {
      missing.push_back(s.name);
      continue;
    }
    const TensorInfo& info = file.info(key);
    if (info.dtype != DType::F32) throw std::runtime_error(fmt::format("tensor '{}': expected dtype F32, got I64", s.name));
    if (info.shape != s.shape)
      throw std::runtime_error(fmt::format("tensor '{}': expected shape {}, got {}", s.name, shape_str(s.shape), shape_str(info.shape)));
    if (s.alias_of < 0) {
      file.copy_f32(key, params + s.offset);
      check_plausible(s.name, params + s.offset, s.numel);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", '" : "'") + missing[i] + "'";
    if (missing.size() > 5) list += fmt::format(" and {} more", missing.size() - 5);
    throw std::runtime_error(fmt::format("missing tensor{} {}", missing.size() > 1 ? "s" : "", list));
  }
  // Aliases are separate identical copies in a state_dict file: a differing copy means a
  // corrupt or hand-edited file, and silently picking one would hide that.
  std::vector<float> tmp;
  for (const auto& s : table_.specs()) {
    if (s.alias_of < 0) continue;
    tmp.resize(s.numel);
    file.copy_f32(prefix + s.name, tmp.data());
    if (std::memcmp(tmp.data(), params + s.offset, s.numel * sizeof(float)) != 0)
      throw std::runtime_error(fmt::format("tensor '{}': differs from '{}', which it must alias", s.name,
                                           table_.specs()[static_cast<size_t>(s.alias_of)].name));
  }
  if (strict_extra) {
    for (const auto& [name, info] : file.tensors())
      if (name.rfind(prefix, 0) == 0 && !table_.find(name.substr(prefix.size())))
        throw std::runtime_error(fmt::format("unexpected tensor '{}' (not part of the architecture in the manifest)", name));
  }
}

void Model::save(const std::string& path) const {
  SafeTensorsWriter w;
  for (const auto& s : table_.specs())
    w.add_f32(s.name, s.shape, std::span<const float>(params_.data() + s.offset, s.numel));
  w.set_metadata("config", manifest_.dump());
  w.write(path);
}

json read_manifest(const SafeTensors& file) {
  auto it = file.metadata().find("config");
  if (it == file.metadata().end())
    throw std::runtime_error(fmt::format("{}: no manifest (__metadata__[\"config\"] is missing)", file.source()));
  try {
    return json::parse(it->second);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: manifest is not valid JSON: {}", file.source(), e.what()));
  }
}

std::unique_ptr<Model> load_model(const SafeTensors& file) {
  json manifest = read_manifest(file);
  const bool golden = manifest.value("format", std::string()) == "nordiq-tft-golden";
  auto model = std::make_unique<Model>(ModelConfig::from_manifest(manifest));
  model->set_manifest(std::move(manifest));
  model->load_weights(file, golden ? "w." : "", !golden);
  return model;
}

std::unique_ptr<Model> load_model_file(const std::string& path) {
  const SafeTensors file = SafeTensors::load(path);
  try {
    return load_model(file);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace nordiq::tft
