// attrib.Transformer and attrib.Hooks: Llama and GPT-2 checkpoints (llama2.c, GGUF, Hugging Face)
// run from Python with hooks that read, replace, add to, project out, scale or call back on any
// activation; the activation cache as numpy arrays; generation with hooks (steering); patching
// sweeps exact and by attribution patching; gradients at hook points; and the LLM studies. The
// forward passes run with the GIL released; callbacks take it for their call.
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "commands.hpp"
#include "llm_model.hpp"
#include "patching_methods.hpp"
#include "attrib/core/hook_point.hpp"
#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/model/random_model.hpp"

namespace attrib_python {

namespace {

using attrib::index;
using attrib::token_id;
using token_rows = std::vector<std::vector<token_id>>;

// A model with its tokenizer (when it has one), as `attrib llm` loads it.
struct transformer_handle {
  cli::loaded_model loaded;

  const attrib::transformer_model& model() const { return *loaded.model; }
  const attrib::transformer_config& config() const { return loaded.model->config(); }
  const cli::any_tokenizer& tokenizer(const char* why) const {
    if (!loaded.tokenizer)
      throw attrib::invalid_argument(std::string(why) +
                                     ": this model has no tokenizer; pass token ids, or load it with tokenizer=");
    return *loaded.tokenizer;
  }
};

// Token sequences from Python: a text, a sequence of ids (list, tuple or 1-D array), or a batch of
// either (list of texts, list of id sequences, 2-D array). `single` says which, so that results
// come back in the same shape.
struct token_batch {
  token_rows rows;
  bool single = true;
};

std::vector<token_id> ids_from(const py::handle& item, const std::string& what) {
  std::vector<token_id> ids;
  for (const auto& id : item) {
    if (!PyIndex_Check(id.ptr()))
      throw attrib::invalid_argument(what + " holds a " + std::string(py::str(id.get_type().attr("__name__"))) +
                                     "; expected integer token ids");
    const auto v = id.cast<long long>();
    if (v < 0 || v > INT32_MAX)
      throw attrib::invalid_argument(what + " holds token id " + std::to_string(v) + "; ids are non-negative");
    ids.push_back(static_cast<token_id>(v));
  }
  return ids;
}

token_batch tokens_from(const transformer_handle& t, const py::handle& tokens, const std::string& what) {
  token_batch b;
  const auto one = [&](const py::handle& item, const std::string& name) -> std::vector<token_id> {
    if (py::isinstance<py::str>(item)) return t.tokenizer(what.c_str()).encode(item.cast<std::string>());
    return ids_from(item, name);
  };
  if (py::isinstance<py::str>(tokens)) {
    b.rows.push_back(one(tokens, what));
  } else if (py::isinstance<py::array>(tokens)) {
    const auto a = py::reinterpret_borrow<py::array>(tokens);
    if (a.ndim() == 1) {
      b.rows.push_back(ids_from(a, what));
    } else if (a.ndim() == 2) {
      b.single = false;
      for (py::ssize_t r = 0; r < a.shape(0); ++r) b.rows.push_back(ids_from(py::object(a[py::int_(r)]), what));
    } else {
      throw attrib::invalid_argument(what + " has " + std::to_string(a.ndim()) +
                                     " dimensions; expected token ids (1-D) or a batch of them (2-D)");
    }
  } else if (py::isinstance<py::sequence>(tokens)) {
    const auto s = py::reinterpret_borrow<py::sequence>(tokens);
    if (s.size() == 0) throw attrib::invalid_argument(what + " is empty; expected tokens");
    const py::object first = s[0];
    if (!py::isinstance<py::str>(first) && !py::isinstance<py::sequence>(first) && !py::isinstance<py::array>(first)) {
      b.rows.push_back(ids_from(s, what));  // ids; anything else in it is refused there by name
    } else {
      b.single = false;
      for (std::size_t r = 0; r < s.size(); ++r) b.rows.push_back(one(s[r], what + "[" + std::to_string(r) + "]"));
    }
  } else {
    throw attrib::invalid_argument(what + " is a " + std::string(py::str(tokens.get_type().attr("__name__"))) +
                                   "; expected a text, token ids, or a list of either");
  }
  for (std::size_t r = 0; r < b.rows.size(); ++r)
    if (b.rows[r].empty())
      throw attrib::invalid_argument(what + (b.single ? std::string() : "[" + std::to_string(r) + "]") +
                                     " has no tokens");
  return b;
}

py::array_t<float> array_of(const attrib::float_matrix& m, index rows) {
  py::array_t<float> out({rows, m.cols()});
  std::copy(m.data(), m.data() + rows * m.cols(), out.mutable_data());
  return out;
}

// One row of an array as floats, refusing NaN and infinities.
attrib::float_vector float_vector_from(const py::handle& v, const std::string& what) {
  const attrib::vector d = vector_from(v, what);
  return d.cast<float>();
}

std::vector<index> indices_from(const std::optional<std::vector<index>>& v) { return v.value_or(std::vector<index>{}); }

// attrib.Hooks: interventions in the order they are added; at one point they run in that order.
class hooks_handle {
 public:
  hooks_handle& add(const std::string& name, const py::handle& vector, double coefficient,
                    std::optional<std::vector<index>> rows, std::optional<std::vector<index>> positions) {
    const auto p = point(name);
    set_.add(p, float_vector_from(vector, "the vector added at " + name), static_cast<float>(coefficient),
             {indices_from(rows), indices_from(positions)});
    return *this;
  }
  hooks_handle& project_out(const std::string& name, const py::handle& direction, std::optional<std::vector<index>> rows,
                            std::optional<std::vector<index>> positions) {
    const auto p = point(name);
    set_.project_out(p, float_vector_from(direction, "the direction projected out at " + name),
                     {indices_from(rows), indices_from(positions)});
    return *this;
  }
  hooks_handle& scale(const std::string& name, double factor, std::optional<std::vector<index>> rows,
                      std::optional<std::vector<index>> positions) {
    if (!std::isfinite(factor)) throw attrib::invalid_argument("the factor at " + name + " is not finite");
    set_.scale(point(name), static_cast<float>(factor), {indices_from(rows), indices_from(positions)});
    return *this;
  }
  // source: positions x width (the same for every batch row) or rows x positions x width.
  hooks_handle& replace(const std::string& name, const py::handle& source, std::optional<std::vector<index>> rows,
                        std::optional<std::vector<index>> positions, index position_offset) {
    const auto p = point(name);
    auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(source);
    if (!a || (a.ndim() != 2 && a.ndim() != 3))
      throw attrib::invalid_argument("the source at " + name +
                                     " must be an array of positions x width, or rows x positions x width");
    auto& cache = sources_.emplace_back();
    const bool per_row = a.ndim() == 3;
    const index batch = per_row ? a.shape(0) : 1, length = a.shape(per_row ? 1 : 0), width = a.shape(per_row ? 2 : 1);
    for (index r = 0; r < batch; ++r)
      for (index t = 0; t < length; ++t) {
        const float* row = a.data() + (r * length + t) * width;
        for (index k = 0; k < width; ++k)
          if (!std::isfinite(row[k]))
            throw attrib::invalid_argument("the source at " + name + " holds " + std::to_string(row[k]) +
                                           " at position " + std::to_string(t) + "; expected finite numbers");
        cache.store(p, {r, t}, row, width);
      }
    set_.replace(p, cache, {indices_from(rows), indices_from(positions)}, std::nullopt,
                 per_row ? std::nullopt : std::optional<index>(0), position_offset);
    return *this;
  }
  // f(values, tokens): values the activations of the tokens computed at the point (a float32
  // array, one row each), tokens their (batch row, position) pairs. f edits values in place or
  // returns an array of the same shape. values is a copy the call owns, so keeping it is safe.
  hooks_handle& call(const std::string& name, py::function f) {
    const auto p = point(name);
    auto shared = std::make_shared<py::function>(std::move(f));
    set_.call(p, [shared, name](attrib::hook_point, attrib::float_matrix& values,
                                std::span<const attrib::token_location> tokens) {
      py::gil_scoped_acquire gil;
      py::array_t<float> view({values.rows(), values.cols()});
      std::copy(values.data(), values.data() + values.size(), view.mutable_data());
      py::array_t<std::int64_t> where({static_cast<py::ssize_t>(tokens.size()), py::ssize_t{2}});
      auto w = where.mutable_unchecked<2>();
      for (std::size_t k = 0; k < tokens.size(); ++k) {
        w(static_cast<py::ssize_t>(k), 0) = tokens[k].row;
        w(static_cast<py::ssize_t>(k), 1) = tokens[k].position;
      }
      const py::object result = (*shared)(view, where);
      py::array_t<float> back = view;
      if (!result.is_none()) {
        back = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(result);
        if (!back || back.ndim() != 2 || back.shape(0) != values.rows() || back.shape(1) != values.cols())
          throw attrib::invalid_argument("the hook at " + name + " returned " +
                                         (back ? "an array of another shape" : "something that is not an array") +
                                         "; expected None or an array of shape (" + std::to_string(values.rows()) +
                                         ", " + std::to_string(values.cols()) + ")");
      }
      for (index k = 0; k < values.size(); ++k)
        if (!std::isfinite(back.data()[k]))
          throw attrib::invalid_argument("the hook at " + name + " left a value of " + std::to_string(back.data()[k]) +
                                         "; expected finite numbers");
      std::copy(back.data(), back.data() + values.size(), values.data());
    });
    // The callback holds a Python object: its destruction must hold the GIL, which the owner
    // (this object, destroyed by Python) guarantees.
    callbacks_.push_back(std::move(shared));
    return *this;
  }

  // The hook points used, checked against a model before a run: a point past the model's last
  // layer would never fire, so it is an error rather than a silent no-op.
  void check(const attrib::transformer_config& c) const {
    for (const auto& p : points_)
      if (p.layer >= c.n_layers)
        throw attrib::invalid_argument("hook " + attrib::to_string(p) + ": the model has " + std::to_string(c.n_layers) +
                                       " layers (0 to " + std::to_string(c.n_layers - 1) + ")");
  }
  const attrib::hook_set& set() const { return set_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& p : points_) out.push_back(attrib::to_string(p));
    return out;
  }

 private:
  attrib::hook_point point(const std::string& name) {
    const auto p = attrib::parse_hook_point(name);
    points_.push_back(p);
    return p;
  }

  attrib::hook_set set_;
  std::deque<attrib::activation_cache> sources_;  // a deque: the hook set keeps their addresses
  std::vector<std::shared_ptr<py::function>> callbacks_;
  std::vector<attrib::hook_point> points_;
};

// Every hook point of a model in forward order, as run_with_cache records by default.
std::vector<attrib::hook_point> all_points(const attrib::transformer_config& c) {
  using attrib::hook_point;
  std::vector<hook_point> out{hook_point::embed()};
  for (index l = 0; l < c.n_layers; ++l)
    for (auto p : {hook_point::resid_pre(l), hook_point::attn_in(l), hook_point::attn_z(l), hook_point::attn_out(l),
                   hook_point::resid_mid(l), hook_point::mlp_in(l), hook_point::mlp_post(l), hook_point::mlp_out(l),
                   hook_point::resid_post(l)})
      out.push_back(p);
  out.push_back(hook_point::final_norm());
  return out;
}

struct run_request {
  std::vector<token_id> logit_tokens = {};
  bool last_only = false;
  std::size_t threads = 1;
};

// Logits per row (positions x vocabulary, or one row with last_only), with the GIL released.
std::vector<attrib::float_matrix> run(const transformer_handle& t, const token_rows& rows, const run_request& r,
                                      const attrib::hook_set* hooks) {
  for (auto id : r.logit_tokens)
    if (id < 0 || id >= t.config().vocab_size)
      throw attrib::invalid_argument("logit_tokens holds " + std::to_string(id) + ", outside the vocabulary [0, " +
                                     std::to_string(t.config().vocab_size) + ")");
  attrib::forward_options options;
  options.hooks = hooks;
  options.logit_tokens = r.logit_tokens;
  options.last_position_only = r.last_only;
  options.threads = r.threads;
  py::gil_scoped_release release;
  return t.model().forward(rows, options);
}

py::object logits_out(const std::vector<attrib::float_matrix>& logits, bool single) {
  if (single) return array_of(logits[0], logits[0].rows());
  py::list out;
  for (const auto& l : logits) out.append(array_of(l, l.rows()));
  return out;
}

cli::arguments token_arguments(const std::string& option, const py::handle& value) {
  const std::string text = py::isinstance<py::str>(value) ? value.cast<std::string>() : std::string(py::str(value));
  return cli::arguments({"--" + option + "=" + text}, {option}, {});
}

// A token named by an id or by text that is one token ("Paris" is "▁Paris" in SentencePiece).
token_id token_from(const transformer_handle& t, const std::string& option, const py::handle& value) {
  if (PyIndex_Check(value.ptr())) {
    const auto v = value.cast<long long>();
    if (v < 0 || v >= t.config().vocab_size)
      throw attrib::invalid_argument(option + " is token " + std::to_string(v) + ", outside the vocabulary [0, " +
                                     std::to_string(t.config().vocab_size) + ")");
    return static_cast<token_id>(v);
  }
  if (!py::isinstance<py::str>(value))
    throw attrib::invalid_argument(option + " must be a token id or a text that is one token");
  return cli::token_option(token_arguments(option, value), t.loaded, option);
}

std::unique_ptr<transformer_handle> load(const std::filesystem::path& path, const std::optional<std::filesystem::path>& tokenizer) {
  std::vector<std::string> args{"--model=" + path.string()};
  if (tokenizer) args.push_back("--tokenizer=" + tokenizer->string());
  const cli::arguments a(args, {"model", "tokenizer"}, {});
  auto t = std::make_unique<transformer_handle>();
  py::gil_scoped_release release;
  t->loaded = cli::load_model(a, false);
  return t;
}

std::unique_ptr<transformer_handle> random_model(index n_layers, index dim, index n_heads, index vocab_size,
                                                 index context_length, std::optional<index> hidden_dim,
                                                 std::optional<index> n_kv_heads, const std::string& architecture,
                                                 std::uint64_t seed, double scale) {
  if (architecture != "llama" && architecture != "gpt2")
    throw attrib::invalid_argument("architecture must be llama or gpt2, got '" + architecture + "'");
  if (!(scale > 0) || !std::isfinite(scale)) throw attrib::invalid_argument("scale must be positive and finite");
  attrib::transformer_config c;
  c.architecture = architecture == "gpt2" ? attrib::transformer_architecture::gpt2 : attrib::transformer_architecture::llama;
  c.n_layers = n_layers;
  c.dim = dim;
  c.n_heads = n_heads;
  c.n_kv_heads = n_kv_heads.value_or(n_heads);
  c.vocab_size = vocab_size;
  c.context_length = context_length;
  c.hidden_dim = hidden_dim.value_or(4 * dim);
  auto t = std::make_unique<transformer_handle>();
  t->loaded.format = "random";
  t->loaded.architecture = architecture;
  t->loaded.model = std::make_unique<attrib::transformer_model>(
      attrib::random_transformer_model(c, seed, {.scale = static_cast<float>(scale)}));
  return t;
}

py::dict config_of(const transformer_handle& t) {
  const auto& c = t.config();
  py::dict d;
  d["architecture"] = attrib::to_string(c.architecture);
  d["n_layers"] = c.n_layers;
  d["dim"] = c.dim;
  d["hidden_dim"] = c.hidden_dim;
  d["n_heads"] = c.n_heads;
  d["n_kv_heads"] = c.n_kv_heads;
  d["head_dim"] = c.head_dim();
  d["vocab_size"] = c.vocab_size;
  d["context_length"] = c.context_length;
  d["norm_eps"] = c.norm_eps;
  d["rope_theta"] = c.rope_theta;
  return d;
}

py::tuple run_with_cache(const transformer_handle& t, const py::handle& tokens, std::optional<std::vector<std::string>> names,
                         const hooks_handle* hooks, std::size_t threads) {
  const auto batch = tokens_from(t, tokens, "tokens");
  std::vector<attrib::hook_point> points;
  if (names)
    for (const auto& n : *names) points.push_back(attrib::parse_hook_point(n));
  else
    points = all_points(t.config());
  for (const auto& p : points)
    if (p.layer >= t.config().n_layers)
      throw attrib::invalid_argument("hook " + attrib::to_string(p) + ": the model has " +
                                     std::to_string(t.config().n_layers) + " layers");
  if (hooks) hooks->check(t.config());
  // The recording runs after the given hooks at each point, so the cache holds what flowed on.
  attrib::hook_set set = hooks ? hooks->set() : attrib::hook_set{};
  attrib::activation_cache cache;
  for (const auto& p : points) set.cache(p, cache);
  run_request request;
  request.threads = threads;
  const auto logits = run(t, batch.rows, request, &set);
  py::dict values;
  for (const auto& p : points) {
    py::list per_row;
    for (std::size_t r = 0; r < batch.rows.size(); ++r)
      per_row.append(array_of(cache.at(p, static_cast<index>(r)), static_cast<index>(batch.rows[r].size())));
    values[py::str(attrib::to_string(p))] = batch.single ? per_row[0] : py::object(per_row);
  }
  return py::make_tuple(logits_out(logits, batch.single), values);
}

py::object generate(const transformer_handle& t, const py::handle& prompt, index max_new_tokens, double temperature,
                    double top_p, std::uint64_t seed, const hooks_handle* hooks, std::optional<std::vector<token_id>> stop,
                    std::size_t threads) {
  const auto batch = tokens_from(t, prompt, "prompt");
  attrib::generation_settings s;
  s.max_new_tokens = max_new_tokens;
  s.temperature = static_cast<float>(temperature);
  s.top_p = static_cast<float>(top_p);
  s.seed = seed;
  s.stop_tokens = stop ? *stop : (t.loaded.tokenizer ? t.loaded.tokenizer->stop : std::vector<token_id>{});
  s.threads = threads;
  if (hooks) hooks->check(t.config());
  token_rows out;
  {
    py::gil_scoped_release release;
    out = attrib::generate(t.model(), batch.rows, s, hooks ? &hooks->set() : nullptr);
  }
  // Texts in, texts out (prompt and continuation, as the tokenizer decodes them); ids in, ids out.
  const bool texts = py::isinstance<py::str>(prompt) ||
                     (!batch.single && py::isinstance<py::sequence>(prompt) && !py::isinstance<py::array>(prompt) &&
                      py::isinstance<py::str>(py::reinterpret_borrow<py::sequence>(prompt)[0]));
  py::list rows;
  for (const auto& ids : out) {
    if (texts)
      rows.append(t.loaded.tokenizer->decode(ids));
    else
      rows.append(py::cast(ids));
  }
  return batch.single ? py::object(rows[0]) : py::object(rows);
}

py::dict patching_sweep(const transformer_handle& t, const py::handle& clean, const py::handle& corrupted,
                        const std::string& point, std::optional<std::vector<index>> layers, const py::object& target,
                        const py::object& contrast, const std::string& method, std::size_t threads) {
  const auto c = tokens_from(t, clean, "clean");
  const auto k = tokens_from(t, corrupted, "corrupted");
  if (!c.single || !k.single) throw attrib::invalid_argument("clean and corrupted must each be one prompt");
  if (point != "resid_pre" && point != "resid_post")
    throw attrib::invalid_argument("point must be resid_pre or resid_post, got '" + point + "'");
  if (method != "exact" && method != "attribution" && method != "both")
    throw attrib::invalid_argument("method must be exact, attribution or both, got '" + method + "'");
  cli::patching_request request;
  request.point = point == "resid_pre" ? attrib::hook_kind::resid_pre : attrib::hook_kind::resid_post;
  request.layers = indices_from(layers);
  if (layers && layers->empty()) throw attrib::invalid_argument("layers is empty; expected layers to patch or None");
  if (!target.is_none()) request.target = token_from(t, "target", target);
  if (contrast.is_none())
    request.contrast.kind = cli::contrast_choice::rule::none;
  else if (!(py::isinstance<py::str>(contrast) && contrast.cast<std::string>() == "auto"))
    request.contrast = {cli::contrast_choice::rule::given, token_from(t, "contrast", contrast)};
  request.exact = method != "attribution";
  request.attribution = method != "exact";
  request.threads = threads;
  cli::patching_grid grid;
  {
    py::gil_scoped_release release;
    grid = cli::patch_layers_by_positions(t.model(), c.rows[0], k.rows[0], request);
  }
  const auto cells = [&](const std::vector<double>& v) -> py::object {
    if (v.empty()) return py::none();
    py::array_t<double> a({static_cast<py::ssize_t>(grid.layers.size()), static_cast<py::ssize_t>(grid.positions)});
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
  };
  py::dict d;
  d["point"] = point;
  d["layers"] = grid.layers;
  d["clean_tokens"] = c.rows[0];
  d["corrupted_tokens"] = k.rows[0];
  d["target"] = grid.target;
  d["contrast"] = grid.contrast ? py::object(py::int_(*grid.contrast)) : py::object(py::none());
  d["clean_value"] = grid.clean_value;
  d["corrupted_value"] = grid.corrupted_value;
  d["exact"] = cells(grid.exact);
  d["attribution"] = cells(grid.attribution);
  return d;
}

// F = logit(target) [- logit(contrast)] at one position of one prompt, with its gradient at each
// named hook point (positions x width) beside the activation there.
py::dict gradients(const transformer_handle& t, const py::handle& tokens, const std::vector<std::string>& names,
                   const py::object& target, const py::object& contrast, index position, std::size_t threads) {
  const auto batch = tokens_from(t, tokens, "tokens");
  if (!batch.single) throw attrib::invalid_argument("gradients takes one prompt");
  const auto n = static_cast<index>(batch.rows[0].size());
  const index at = position < 0 ? n + position : position;
  if (at < 0 || at >= n)
    throw attrib::invalid_argument("position " + std::to_string(position) + " is outside a prompt of " +
                                   std::to_string(n) + " tokens");
  const token_id good = token_from(t, "target", target);
  const std::optional<token_id> bad =
      contrast.is_none() ? std::nullopt : std::optional<token_id>(token_from(t, "contrast", contrast));
  attrib::backward_options options;
  for (const auto& name : names) {
    const auto p = attrib::parse_hook_point(name);
    if (p.layer >= t.config().n_layers)
      throw attrib::invalid_argument("hook " + name + ": the model has " + std::to_string(t.config().n_layers) + " layers");
    options.points.push_back(p);
  }
  options.threads = threads;
  const attrib::logit_objective objective = [&](const std::vector<attrib::float_matrix>& logits,
                                                std::vector<attrib::float_matrix>& gradient) {
    gradient[0](at, good) += 1.0f;
    double value = logits[0](at, good);
    if (bad) {
      gradient[0](at, *bad) -= 1.0f;
      value -= logits[0](at, *bad);
    }
    return value;
  };
  attrib::transformer_gradients g;
  {
    py::gil_scoped_release release;
    g = attrib::transformer_backward(t.model(), batch.rows, objective, options);
  }
  py::dict activations, grads;
  for (const auto& p : options.points) {
    activations[py::str(attrib::to_string(p))] = array_of(g.activation(p, 0), n);
    grads[py::str(attrib::to_string(p))] = array_of(g.gradient(p, 0), n);
  }
  py::dict d;
  d["value"] = g.value;
  d["activations"] = activations;
  d["gradients"] = grads;
  return d;
}

}  // namespace

void bind_transformer(py::module_& m) {
  py::class_<hooks_handle>(m, "Hooks", R"(Interventions on a transformer's activations, applied during a run.

Points are named as in docs/transformer-hooks.md: "embed", "resid_pre.L", "attn_in.L", "attn_z.L",
"attn_out.L", "resid_mid.L", "mlp_in.L", "mlp_post.L", "mlp_out.L", "resid_post.L", "final_norm".
rows and positions select batch rows and token positions (None: all). Every method returns the
Hooks, so calls chain; at one point the interventions run in the order they were added.)")
      .def(py::init<>())
      .def("add", &hooks_handle::add, py::arg("name"), py::arg("vector"), py::arg("coefficient") = 1.0,
           py::arg("rows") = py::none(), py::arg("positions") = py::none(), py::return_value_policy::reference_internal,
           "x += coefficient * vector (steering).")
      .def("project_out", &hooks_handle::project_out, py::arg("name"), py::arg("direction"), py::arg("rows") = py::none(),
           py::arg("positions") = py::none(), py::return_value_policy::reference_internal,
           "x -= (x . r) r with r = direction / |direction| (directional ablation).")
      .def("scale", &hooks_handle::scale, py::arg("name"), py::arg("factor"), py::arg("rows") = py::none(),
           py::arg("positions") = py::none(), py::return_value_policy::reference_internal, "x *= factor.")
      .def("replace", &hooks_handle::replace, py::arg("name"), py::arg("source"), py::arg("rows") = py::none(),
           py::arg("positions") = py::none(), py::arg("position_offset") = 0, py::return_value_policy::reference_internal,
           R"(Replaces x at each selected (row, position) by source's row for position + position_offset.

source: positions x width (for every batch row) or rows x positions x width, for example an entry of
another run's cache, of this model or of another model of the same width (activation patching).)")
      .def("call", &hooks_handle::call, py::arg("name"), py::arg("function"), py::return_value_policy::reference_internal,
           R"(Calls function(values, tokens) at the point for every run.

values: float32 array, one row per token being computed; tokens: int64 array of (batch row,
position) pairs. Edit values in place or return an array of the same shape. Exceptions raised in
the function propagate out of the run.)")
      .def_property_readonly("names", &hooks_handle::names, "The hook points used, in the order they were added.");

  py::class_<transformer_handle>(m, "Transformer", R"(A Llama- or GPT-2-family transformer with hooks.

Transformer.load reads a llama2.c checkpoint (with its tokenizer .bin), a GGUF file or a Hugging
Face directory (config.json, *.safetensors, tokenizer.json), as `attrib llm` does.)")
      .def_static("load", &load, py::arg("path"), py::arg("tokenizer") = py::none(),
                  "Loads a checkpoint: .gguf, llama2.c .bin (tokenizer= its tokenizer .bin) or a Hugging Face directory.")
      .def_static("random", &random_model, py::arg("n_layers") = 2, py::arg("dim") = 32, py::arg("n_heads") = 4,
                  py::arg("vocab_size") = 64, py::arg("context_length") = 64, py::arg("hidden_dim") = py::none(),
                  py::arg("n_kv_heads") = py::none(), py::arg("architecture") = "llama", py::arg("seed") = 0,
                  py::arg("scale") = 0.05,
                  "A model with weights uniform in [-scale, scale] drawn from seed (no tokenizer), for tests and timing.")
      .def_property_readonly("config", &config_of, "The shape of the model as a dict.")
      .def_property_readonly("format", [](const transformer_handle& t) { return t.loaded.format; })
      .def_property_readonly("has_tokenizer", [](const transformer_handle& t) { return t.loaded.tokenizer.has_value(); })
      .def(
          "encode",
          [](const transformer_handle& t, const std::string& text, bool bos) {
            return t.tokenizer("encode").encode(text, bos);
          },
          py::arg("text"), py::arg("bos") = true, "Token ids of a text, BOS first unless bos=False.")
      .def(
          "decode",
          [](const transformer_handle& t, const py::handle& ids) {
            const auto v = ids_from(ids, "ids");
            for (auto id : v)
              if (id >= t.config().vocab_size)
                throw attrib::invalid_argument("ids holds " + std::to_string(id) + ", outside the vocabulary [0, " +
                                               std::to_string(t.config().vocab_size) + ")");
            return t.tokenizer("decode").decode(v);
          },
          py::arg("ids"), "The text of token ids.")
      .def(
          "to_str_tokens",
          [](const transformer_handle& t, const py::handle& tokens) {
            const auto batch = tokens_from(t, tokens, "tokens");
            if (!batch.single) throw attrib::invalid_argument("to_str_tokens takes one prompt");
            std::vector<std::string> out;
            for (auto id : batch.rows[0]) {
              if (id >= t.config().vocab_size)
                throw attrib::invalid_argument("token " + std::to_string(id) + " is outside the vocabulary");
              out.push_back(cli::token_label(t.loaded, id));
            }
            return out;
          },
          py::arg("tokens"), "Each token as a readable label (spaces shown as _; <id> for tokens without text).")
      .def(
          "forward",
          [](const transformer_handle& t, const py::handle& tokens, const hooks_handle* hooks,
             std::optional<std::vector<token_id>> logit_tokens, bool last_only, std::size_t threads) {
            const auto batch = tokens_from(t, tokens, "tokens");
            if (hooks) hooks->check(t.config());
            const auto logits = run(t, batch.rows, {logit_tokens.value_or(std::vector<token_id>{}), last_only, threads},
                                    hooks ? &hooks->set() : nullptr);
            return logits_out(logits, batch.single);
          },
          py::arg("tokens"), py::arg("hooks") = py::none(), py::arg("logit_tokens") = py::none(),
          py::arg("last_only") = false, py::arg("threads") = 1,
          R"(Logits: positions x vocabulary (float32) for one prompt, a list of them for a batch.

tokens: a text (BOS prepended), token ids, or a list of either. logit_tokens: compute only these
columns; last_only: only the last position. threads: 0 for all cores; results do not depend on it.)")
      .def("run_with_cache", &run_with_cache, py::arg("tokens"), py::arg("names") = py::none(),
           py::arg("hooks") = py::none(), py::arg("threads") = 1,
           R"((logits, cache): cache maps each hook point name (default: every point) to its activations,
positions x width, after any hooks at that point; for a batch, a list per name.)")
      .def("generate", &generate, py::arg("prompt"), py::arg("max_new_tokens") = 16, py::arg("temperature") = 0.0,
           py::arg("top_p") = 1.0, py::arg("seed") = 0, py::arg("hooks") = py::none(), py::arg("stop") = py::none(),
           py::arg("threads") = 1,
           R"(Continues the prompt (greedy at temperature 0) with the hooks active at every step.

A text gives text back (prompt and continuation); token ids give ids. stop: token ids that end a
row (default: the tokenizer's end-of-sequence ids). seed fixes sampling.)")
      .def("_patching_sweep", &patching_sweep, py::arg("clean"), py::arg("corrupted"), py::arg("point") = "resid_pre",
           py::arg("layers") = py::none(), py::arg("target") = py::none(), py::arg("contrast") = "auto",
           py::arg("method") = "exact", py::arg("threads") = 1)
      .def("_gradients", &gradients, py::arg("tokens"), py::arg("names"), py::arg("target"),
           py::arg("contrast") = py::none(), py::arg("position") = -1, py::arg("threads") = 1);

  m.def(
      "_llm_study",
      [](const std::vector<std::string>& args) {
        py::gil_scoped_release release;
        return cli::llm_study(args);
      },
      py::arg("args"));
}

}  // namespace attrib_python
