// Hook points and interventions on stories260K: patching, steering, ablation, selection by batch
// row and position, and hooks during KV-cached generation.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "attrib/transformer/model/generate.hpp"
#include "attrib/transformer/loading/gguf_loader.hpp"
#include "attrib/transformer/hooks/hooks.hpp"
#include "attrib/transformer/loading/llama2c_loader.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::hook_point;
using attrib::token_id;
using batch = std::vector<std::vector<token_id>>;

const std::filesystem::path model_dir =
    std::filesystem::path(ATTRIB_DATA_DIR) / "models" / "stories260K";

const attrib::transformer_model& model() {
  static const auto m = attrib::load_llama2c_model(model_dir / "stories260K.bin");
  return m;
}

// "Lily and Tom went to the park." and the same length with another subject.
const std::vector<token_id> clean = {1, 317, 269, 274, 287, 263, 300, 432, 338};
const std::vector<token_id> corrupt = {1, 291, 269, 274, 287, 263, 300, 432, 338};

attrib::forward_options with(const attrib::hook_set& hooks) {
  attrib::forward_options o;
  o.hooks = &hooks;
  return o;
}

float max_abs_diff(const attrib::float_matrix& a, const attrib::float_matrix& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (a - b).cwiseAbs().maxCoeff();
}

attrib::float_vector direction(attrib::index n, float phase) {
  attrib::float_vector v(n);
  for (attrib::index i = 0; i < n; ++i) v[i] = std::sin(phase + 0.7f * static_cast<float>(i));
  return v;
}

}  // namespace

TEST_CASE("hook points: names round-trip and bad names are rejected") {
  for (const auto p : {hook_point::embed(), hook_point::resid_pre(3), hook_point::attn_out(0),
                       hook_point::resid_mid(12), hook_point::mlp_post(1), hook_point::mlp_out(4),
                       hook_point::resid_post(31), hook_point::final_norm()})
    CHECK(attrib::parse_hook_point(attrib::to_string(p)) == p);
  CHECK(attrib::to_string(hook_point::resid_post(2)) == "resid_post.2");
  CHECK(attrib::to_string(hook_point::final_norm()) == "final_norm");
  for (const char* bad : {"resid_post", "resid_post.", "resid_post.x", "embed.1", "blocks.0", ""})
    CHECK_THROWS_WITH_AS(attrib::parse_hook_point(bad), doctest::Contains("is not one of"),
                         attrib::invalid_argument);
}

TEST_CASE("hooks: cached activations fit the residual-stream algebra") {
  attrib::activation_cache cache;
  attrib::hook_set hooks;
  const auto L = model().config().n_layers;
  hooks.cache(hook_point::embed(), cache).cache(hook_point::final_norm(), cache);
  for (attrib::index l = 0; l < L; ++l)
    for (auto kind :
         {attrib::hook_kind::resid_pre, attrib::hook_kind::attn_in, attrib::hook_kind::attn_z, attrib::hook_kind::attn_out,
          attrib::hook_kind::resid_mid, attrib::hook_kind::mlp_in,
          attrib::hook_kind::mlp_post, attrib::hook_kind::mlp_out, attrib::hook_kind::resid_post})
      hooks.cache({kind, l}, cache);
  const auto logits = model().forward(batch{clean}, with(hooks));
  CHECK(max_abs_diff(logits[0], model().forward(batch{clean})[0]) ==
        0.0f);  // reading changes nothing

  const auto T = static_cast<attrib::index>(clean.size());
  CHECK(cache.at(hook_point::mlp_post(0), 0).rows() >= T);
  CHECK(cache.at(hook_point::mlp_post(0), 0).cols() == 172);
  auto at = [&](hook_point p) { return attrib::float_matrix(cache.at(p, 0).topRows(T)); };
  CHECK(max_abs_diff(at(hook_point::embed()), at(hook_point::resid_pre(0))) == 0.0f);
  for (attrib::index l = 0; l < L; ++l) {
    CHECK(max_abs_diff(at(hook_point::resid_mid(l)),
                       at(hook_point::resid_pre(l)) + at(hook_point::attn_out(l))) == 0.0f);
    CHECK(max_abs_diff(at(hook_point::resid_post(l)),
                       at(hook_point::resid_mid(l)) + at(hook_point::mlp_out(l))) == 0.0f);
    if (l + 1 < L)
      CHECK(max_abs_diff(at(hook_point::resid_post(l)), at(hook_point::resid_pre(l + 1))) == 0.0f);
    // attn_z is the output projection's input: attn_out = attn_z * W_O^T (stories260K has no bias).
    const auto& wo = model().weights().layers[static_cast<std::size_t>(l)].wo;
    attrib::float_matrix o(wo.rows, wo.cols);
    wo.decode_rows(0, wo.rows, o.data());
    CHECK(at(hook_point::attn_z(l)).cols() == model().config().n_heads * model().config().head_dim());
    CHECK(max_abs_diff(at(hook_point::attn_z(l)) * o.transpose(), at(hook_point::attn_out(l))) < 1e-5f);
    // Unedited, each block reads the stream as it is.
    CHECK(max_abs_diff(at(hook_point::attn_in(l)), at(hook_point::resid_pre(l))) == 0.0f);
    CHECK(max_abs_diff(at(hook_point::mlp_in(l)), at(hook_point::resid_mid(l))) == 0.0f);
  }
  // The unembedding reads the final-norm output: logits = final_norm * W_U^T (tied embedding).
  const auto& w = model().weights().output;
  attrib::float_matrix unembed(w.rows, w.cols);
  w.decode_rows(0, w.rows, unembed.data());
  CHECK(max_abs_diff(at(hook_point::final_norm()) * unembed.transpose(), logits[0]) < 1e-4f);
  CHECK(cache.rows(hook_point::embed()) == std::vector<attrib::index>{0});
  CHECK_THROWS_WITH_AS(cache.at(hook_point::embed(), 0, T), doctest::Contains("position 9"),
                       attrib::invalid_argument);
}

TEST_CASE("hooks: attn_in and mlp_in edit what one block reads, not the stream") {
  // Zeroing what layer 1's attention reads silences that block alone (stories260K has no biases):
  // resid_mid.1 is then resid_pre.1, while resid_pre.1 itself is the unedited run's.
  attrib::activation_cache plain, edited;
  attrib::hook_set read;
  read.cache(hook_point::resid_pre(1), plain);
  model().forward(batch{clean}, with(read));
  attrib::hook_set hooks;
  hooks.scale(hook_point::attn_in(1), 0.0f).cache(hook_point::resid_pre(1), edited).cache(hook_point::resid_mid(1), edited);
  hooks.scale(hook_point::mlp_in(2), 0.0f).cache(hook_point::resid_mid(2), edited).cache(hook_point::resid_post(2), edited);
  model().forward(batch{clean}, with(hooks));
  const auto T = static_cast<attrib::index>(clean.size());
  auto at = [&](const attrib::activation_cache& c, hook_point p) { return attrib::float_matrix(c.at(p, 0).topRows(T)); };
  CHECK(max_abs_diff(at(edited, hook_point::resid_pre(1)), at(plain, hook_point::resid_pre(1))) == 0.0f);
  CHECK(max_abs_diff(at(edited, hook_point::resid_mid(1)), at(edited, hook_point::resid_pre(1))) == 0.0f);
  CHECK(max_abs_diff(at(edited, hook_point::resid_post(2)), at(edited, hook_point::resid_mid(2))) == 0.0f);
}

TEST_CASE("hooks: patching a clean run's resid_post into a corrupted run") {
  const auto L = model().config().n_layers;
  attrib::activation_cache clean_cache;
  attrib::hook_set record;
  for (attrib::index l = 0; l < L; ++l) record.cache(hook_point::resid_post(l), clean_cache);
  const auto clean_logits = model().forward(batch{clean}, with(record))[0];
  const auto corrupt_logits = model().forward(batch{corrupt})[0];
  CHECK(max_abs_diff(clean_logits, corrupt_logits) > 0.1f);

  SUBCASE("at every position of layer l, the clean logits come back exactly") {
    for (attrib::index l = 0; l < L; ++l) {
      attrib::hook_set patch;
      patch.replace(hook_point::resid_post(l), clean_cache);
      CHECK(max_abs_diff(model().forward(batch{corrupt}, with(patch))[0], clean_logits) == 0.0f);
    }
  }
  SUBCASE("at one position, earlier positions keep the corrupted logits") {
    attrib::hook_set patch;
    patch.replace(hook_point::resid_post(1), clean_cache, {.rows = {}, .positions = {4}});
    const auto patched = model().forward(batch{corrupt}, with(patch))[0];
    CHECK(max_abs_diff(patched.topRows(4), corrupt_logits.topRows(4)) == 0.0f);
    CHECK(max_abs_diff(patched.row(4), corrupt_logits.row(4)) > 0.0f);
  }
  SUBCASE("from another model of the same width (the GGUF copy)") {
    const auto gguf = attrib::load_gguf_model(model_dir / "stories260K.gguf");
    attrib::hook_set patch;
    patch.replace(hook_point::resid_post(2), clean_cache);
    CHECK(max_abs_diff(gguf.forward(batch{corrupt}, with(patch))[0], clean_logits) == 0.0f);
  }
  SUBCASE("from another batch row of the same run, cached just before (ROME-style)") {
    attrib::activation_cache scratch;
    attrib::hook_set patch;
    patch.cache(hook_point::resid_post(0), scratch, {.rows = {0}, .positions = {}})
        .replace(hook_point::resid_post(0), scratch, {.rows = {1, 2}, .positions = {}},
                 std::nullopt, 0);
    const auto out = model().forward(batch{clean, corrupt, corrupt}, with(patch));
    CHECK(max_abs_diff(out[1], out[0]) == 0.0f);
    CHECK(max_abs_diff(out[2], clean_logits) == 0.0f);
  }
  SUBCASE("a missing source activation is an error naming it") {
    attrib::activation_cache empty;
    attrib::hook_set patch;
    patch.replace(hook_point::resid_pre(0), empty);
    CHECK_THROWS_WITH_AS(model().forward(batch{corrupt}, with(patch)),
                         doctest::Contains("nothing recorded at resid_pre.0"),
                         attrib::invalid_argument);
  }
}

TEST_CASE("hooks: add, project out and scale") {
  const auto dim = model().config().dim;
  const auto plain = model().forward(batch{clean, corrupt});
  const auto v = direction(dim, 0.3f);

  SUBCASE("adding v then -v is the identity") {
    attrib::hook_set hooks;
    hooks.add(hook_point::resid_mid(2), v, 3.0f).add(hook_point::resid_mid(2), v, -3.0f);
    const auto out = model().forward(batch{clean, corrupt}, with(hooks));
    for (int r = 0; r < 2; ++r) CHECK(max_abs_diff(out[r], plain[r]) < 1e-4f);
  }
  SUBCASE("project_out leaves no component along the direction") {
    attrib::activation_cache after;
    attrib::hook_set hooks;
    for (attrib::index l = 0; l < model().config().n_layers; ++l)
      hooks.project_out(hook_point::resid_pre(l), v).cache(hook_point::resid_pre(l), after);
    const auto out = model().forward(batch{clean, corrupt}, with(hooks));
    CHECK(max_abs_diff(out[0], plain[0]) > 0.0f);
    for (int r = 0; r < 2; ++r)
      for (attrib::index l = 0; l < model().config().n_layers; ++l) {
        const auto& x = after.at(hook_point::resid_pre(l), r);
        for (attrib::index t = 0; t < static_cast<attrib::index>(clean.size()); ++t)
          CHECK(std::abs(x.row(t).dot(v.transpose())) < 1e-5f * x.row(t).norm() * v.norm());
      }
  }
  SUBCASE("selection by batch row leaves the other rows bit-identical") {
    attrib::hook_set hooks;
    hooks.add(hook_point::embed(), v, 1.0f, {.rows = {1}, .positions = {}});
    const auto out = model().forward(batch{clean, corrupt}, with(hooks));
    CHECK(max_abs_diff(out[0], plain[0]) == 0.0f);
    CHECK(max_abs_diff(out[1], plain[1]) > 0.0f);
  }
  SUBCASE("scale 1 is the identity; scaling attn_out by 0 everywhere removes attention") {
    attrib::hook_set one;
    one.scale(hook_point::mlp_post(3), 1.0f);
    CHECK(max_abs_diff(model().forward(batch{clean}, with(one))[0], plain[0]) == 0.0f);
    attrib::hook_set zero;
    for (attrib::index l = 0; l < model().config().n_layers; ++l)
      zero.scale(hook_point::attn_out(l), 0.0f);
    // Without attention every position only sees its own token.
    const auto a = model().forward(batch{{1, 269}}, with(zero))[0];
    const auto b = model().forward(batch{{2, 269}}, with(zero))[0];
    CHECK(max_abs_diff(a.row(1), b.row(1)) == 0.0f);
  }
  SUBCASE("a vector of the wrong width is an error naming the hook") {
    attrib::hook_set hooks;
    hooks.add(hook_point::mlp_post(0), v);
    CHECK_THROWS_WITH_AS(model().forward(batch{clean}, with(hooks)),
                         doctest::Contains("add at mlp_post.0"), attrib::invalid_argument);
    CHECK_THROWS_AS(hooks.project_out(hook_point::embed(), attrib::float_vector::Zero(dim)),
                    attrib::invalid_argument);
  }
  SUBCASE("a function hook sees every token with its location") {
    std::vector<attrib::token_location> seen;
    attrib::hook_set hooks;
    hooks.call(hook_point::final_norm(), [&](hook_point, attrib::float_matrix& values,
                                             std::span<const attrib::token_location> t) {
      CHECK(values.rows() == static_cast<attrib::index>(t.size()));
      seen.assign(t.begin(), t.end());
    });
    model().forward(batch{{1, 2}, {3}}, with(hooks));
    REQUIRE(seen.size() == 3);
    attrib::hook_set resize;
    resize.call(hook_point::resid_mid(1),
                [](hook_point, attrib::float_matrix& values,
                   std::span<const attrib::token_location>) { values.resize(1, 1); });
    CHECK_THROWS_WITH_AS(model().forward(batch{{1, 2}}, with(resize)),
                         doctest::Contains("hook at resid_mid.1 resized"),
                         attrib::invalid_argument);
    CHECK((seen[1].row == 0 && seen[1].position == 1 && seen[2].row == 1 && seen[2].position == 0));
  }
}

TEST_CASE("hooks: active on every KV-cached generation step") {
  const auto dim = model().config().dim;
  const auto v = direction(dim, 1.1f);
  attrib::hook_set steer;
  steer.add(hook_point::resid_post(2), v, 4.0f);
  attrib::generation_settings settings;
  settings.max_new_tokens = 12;
  const batch prompt = {{1, 403, 407}};
  const auto steered = attrib::generate(model(), prompt, settings, &steer);
  CHECK(steered != attrib::generate(model(), prompt, settings));

  // The same tokens from recomputing the whole sequence with the hook at every step.
  std::vector<token_id> recomputed = prompt[0];
  attrib::forward_options options = with(steer);
  options.last_position_only = true;
  for (int step = 0; step < 12; ++step) {
    const auto logits = model().forward(batch{recomputed}, options)[0];
    attrib::index next = 0;
    logits.row(0).maxCoeff(&next);
    recomputed.push_back(static_cast<token_id>(next));
  }
  CHECK(steered[0] == recomputed);

  // A cache hook records the prompt and every generated position that was computed.
  attrib::activation_cache cache;
  attrib::hook_set record;
  record.cache(hook_point::resid_pre(0), cache);
  const auto out = attrib::generate(model(), prompt, settings, &record);
  for (attrib::index p = 0; p + 1 < static_cast<attrib::index>(out[0].size()); ++p)
    CHECK(cache.contains(hook_point::resid_pre(0), 0, p));
  CHECK_FALSE(
      cache.contains(hook_point::resid_pre(0), 0, static_cast<attrib::index>(out[0].size()) - 1));
}
