// File formats: CSV, safetensors and the model file. Round trips must be exact, and every
// malformed input must raise format_error naming what is wrong.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/io/csv.hpp"
#include "attrib/io/detail/file_bytes.hpp"
#include "attrib/io/detail/result_wire.hpp"
#include "attrib/io/json.hpp"
#include "attrib/io/model_file.hpp"
#include "attrib/io/train_test_split.hpp"
#include "attrib/io/safetensors.hpp"

#ifndef ATTRIB_DATA_DIR
#define ATTRIB_DATA_DIR "data"
#endif

namespace {

using attrib::matrix;
using attrib::vector;
namespace fs = std::filesystem;

matrix random_matrix(attrib::index rows, attrib::index cols, std::uint64_t seed) {
  attrib::rng gen(seed);
  matrix m(rows, cols);
  for (attrib::index k = 0; k < m.size(); ++k) m.data()[k] = gen.normal();
  return m;
}

// A fresh directory under the system's temporary folder, removed at scope exit.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    path = fs::temp_directory_path() / ("attrib_test_io_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// A safetensors file from a header string and a data buffer.
std::string raw_safetensors(const std::string& header, const std::string& data) {
  std::string out;
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((header.size() >> (8 * k)) & 0xFF));
  return out + header + data;
}

attrib::any_model sample_mlp() {
  attrib::mlp net({{4, 5, attrib::activation::gelu}, {5, 3, attrib::activation::identity}},
                  attrib::output_head::softmax, 3);
  net.set_standardizer(attrib::standardizer(random_matrix(4, 1, 5),
                                            random_matrix(4, 1, 6).cwiseAbs().array() + 0.1));
  net.set_l2(0.01);
  return attrib::any_model(std::move(net), {{"a", "b", "c", "d"}, {"x", "y", "z"}});
}

void check_same_predictions(const attrib::any_model& a, const attrib::any_model& b,
                            double tolerance = 0.0) {
  REQUIRE(a.input_dim() == b.input_dim());
  REQUIRE(a.output_dim() == b.output_dim());
  CHECK(a.type() == b.type());
  const matrix x = random_matrix(10, a.input_dim(), 77) * 2.0;
  CHECK((a.predict(x) - b.predict(x)).cwiseAbs().maxCoeff() <= tolerance);
  CHECK(a.info().feature_names == b.info().feature_names);
  CHECK(a.info().class_names == b.info().class_names);
}

}  // namespace

TEST_CASE("result wire: attributions, interaction matrices and terms round-trip bit for bit; cut or padded bytes are named") {
  attrib::attribution a;
  a.method = "kernel_shap";
  a.values = attrib::vector::LinSpaced(5, -1.0, 1.0 / 3.0);
  a.standard_errors = attrib::vector::Constant(5, 1e-300);
  a.base_value = -0.0;
  a.prediction = std::nextafter(1.0, 2.0);
  a.model_evaluations = 123;
  a.fit.r_squared = 0.5;
  attrib::interaction_attribution pairs;
  pairs.method = "shapley_taylor";
  pairs.values = attrib::matrix::Random(3, 3);
  pairs.diagonal = attrib::interaction_diagonal::banzhaf_value;
  pairs.row_totals = attrib::vector::Random(3);
  pairs.prediction = 2.5;
  pairs.game_evaluations = 8;
  const std::vector<std::vector<attrib::interaction_term>> terms{
      {{{0}, 0.25}, {{0, 2}, -1.5}}, {}, {{{1, 2, 3}, 1e-17}}};

  std::vector<attrib::attribution> a_back;
  attrib::detail::from_wire(attrib::detail::to_wire(std::vector{a, a}), a_back);
  REQUIRE(a_back.size() == 2);
  CHECK(a_back[1].method == "kernel_shap");
  CHECK(a_back[1].values == a.values);
  CHECK(a_back[1].standard_errors == a.standard_errors);
  CHECK(std::signbit(a_back[1].base_value));
  CHECK(a_back[1].prediction == a.prediction);
  CHECK(a_back[1].model_evaluations == 123);
  CHECK(a_back[1].fit.r_squared == 0.5);

  std::vector<attrib::interaction_attribution> p_back;
  attrib::detail::from_wire(attrib::detail::to_wire(std::vector{pairs}), p_back);
  REQUIRE(p_back.size() == 1);
  CHECK(p_back[0].values == pairs.values);
  CHECK(p_back[0].standard_errors.size() == 0);
  CHECK(p_back[0].diagonal == attrib::interaction_diagonal::banzhaf_value);
  CHECK(p_back[0].row_totals == pairs.row_totals);
  CHECK(p_back[0].prediction == 2.5);
  CHECK(p_back[0].game_evaluations == 8);

  const std::string bytes = attrib::detail::to_wire(terms);
  std::vector<std::vector<attrib::interaction_term>> t_back;
  attrib::detail::from_wire(bytes, t_back);
  REQUIRE(t_back.size() == 3);
  CHECK(t_back[1].empty());
  CHECK(t_back[2][0].players == std::vector<attrib::index>{1, 2, 3});
  CHECK(t_back[0][1].value == -1.5);

  // Every cut of the message is named (never read past its end), and so are trailing bytes.
  for (std::size_t keep = 0; keep < bytes.size(); ++keep) {
    std::vector<std::vector<attrib::interaction_term>> cut;
    CHECK_THROWS_AS(attrib::detail::from_wire(bytes.substr(0, keep), cut), attrib::invalid_argument);
  }
  std::vector<std::vector<attrib::interaction_term>> padded;
  CHECK_THROWS_WITH(attrib::detail::from_wire(bytes + "x", padded), doctest::Contains("trailing bytes"));
  // A length prefix larger than the message is refused before anything is allocated for it.
  attrib::detail::wire_writer w;
  w.put(std::size_t{1});
  w.put(std::string("m"));
  w.put(attrib::index{1 << 20});
  w.put(attrib::index{1 << 20});
  w.put(std::size_t{1} << 40);
  std::vector<attrib::interaction_attribution> huge;
  CHECK_THROWS_WITH(attrib::detail::from_wire(w.take(), huge), doctest::Contains("announces 1099511627776 elements"));
}

TEST_CASE("csv: tables with and without header") {
  const auto with_header = attrib::parse_csv("x,\"y\", z\r\n1,2,3\r\n\r\n4.5,-6e2,+7\r\n");
  CHECK(with_header.header == std::vector<std::string>{"x", "y", "z"});
  REQUIRE(with_header.values.rows() == 2);
  CHECK(with_header.values(1, 1) == -600.0);
  CHECK(with_header.values(1, 2) == 7.0);

  const auto plain = attrib::parse_csv("1,2\n3,4");
  CHECK(plain.header.empty());
  CHECK(plain.values == (matrix(2, 2) << 1, 2, 3, 4).finished());
}

TEST_CASE("csv: write then read is exact") {
  scratch_dir dir;
  const matrix values = random_matrix(7, 3, 8) * 1e3;
  attrib::write_csv(dir.path / "t.csv", {"a", "b", "c"}, values);
  const auto table = attrib::read_csv(dir.path / "t.csv");
  CHECK(table.header == std::vector<std::string>{"a", "b", "c"});
  CHECK(table.values == values);
  CHECK_THROWS_AS(attrib::write_csv(dir.path / "u.csv", {"a"}, values), attrib::invalid_argument);
}

TEST_CASE("csv: the scikit-learn data sets") {
  const auto wine = attrib::read_sklearn_csv(ATTRIB_DATA_DIR "/wine/wine_data.csv");
  CHECK(wine.features.rows() == 178);
  CHECK(wine.features.cols() == 13);
  CHECK(wine.class_names == std::vector<std::string>{"class_0", "class_1", "class_2"});
  CHECK(wine.features(0, 0) == 14.23);
  CHECK(wine.features(0, 12) == 1065.0);
  CHECK(wine.labels.minCoeff() == 0.0);
  CHECK(wine.labels.maxCoeff() == 2.0);

  const auto cancer = attrib::read_sklearn_csv(ATTRIB_DATA_DIR "/breast_cancer/breast_cancer.csv");
  CHECK(cancer.features.rows() == 569);
  CHECK(cancer.features.cols() == 30);
  CHECK(cancer.class_names == std::vector<std::string>{"malignant", "benign"});
}

TEST_CASE("csv: malformed input names file, line and column") {
  using attrib::format_error;
  CHECK_THROWS_WITH_AS(attrib::parse_csv("", "f.csv"), doctest::Contains("f.csv: empty"),
                       format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("a,b\n", "f.csv"), doctest::Contains("no data rows"),
                       format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("1,2\n3,4\n5\n", "f.csv"),
                       doctest::Contains("f.csv: line 3: expected 2 cells, found 1"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("a,b\n1,2\n3,x\n", "f.csv"),
                       doctest::Contains("line 3, column 2: expected a number, got 'x'"),
                       format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("1,nan\n", "f.csv"),
                       doctest::Contains("line 1, column 2: non-finite"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("1,2\ninf,2\n", "f.csv"),
                       doctest::Contains("line 2, column 1: non-finite"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("1,1e999\n", "f.csv"),
                       doctest::Contains("line 1, column 2: non-finite value '1e999'"),
                       format_error);
  CHECK(attrib::parse_csv("1,1e-999\n").values(0, 1) == 0.0);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("a,b\n1,2,3\n", "f.csv"),
                       doctest::Contains("as in the header"), format_error);

  CHECK_THROWS_WITH_AS(attrib::parse_sklearn_csv("3,2,a,b\n1,2,0\n3,4,1\n", "s.csv"),
                       doctest::Contains("declares 3 rows, found 2"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_sklearn_csv("1,3,a,b\n1,2,0\n", "s.csv"),
                       doctest::Contains("declares 3 features"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_sklearn_csv("1,2,a,b\n1,2,2\n", "s.csv"),
                       doctest::Contains("line 2, column 3: label 2"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_sklearn_csv("1,2,a,b\n1,2,0.5\n", "s.csv"),
                       doctest::Contains("label 0.5"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_sklearn_csv("x,2,a\n1,2,0\n", "s.csv"),
                       doctest::Contains("column 1: expected n_rows"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_sklearn_csv("1,2\n1,2,0\n", "s.csv"),
                       doctest::Contains("class name"), format_error);
  CHECK_THROWS_WITH_AS(attrib::read_csv("/nonexistent/attrib.csv"),
                       doctest::Contains("/nonexistent/attrib.csv"), format_error);
}

TEST_CASE("safetensors: round trips and half-precision decoding") {
  attrib::tensor_map tensors;
  tensors["w"] = attrib::matrix_tensor(random_matrix(3, 2, 1));
  tensors["b"] = attrib::vector_tensor(vector(random_matrix(3, 1, 2)));
  tensors["empty"] = {{0}, vector(), attrib::tensor_dtype::f64};
  const auto bytes =
      attrib::serialize_safetensors(tensors, attrib::tensor_dtype::f64, {{"k", "v"}});
  CHECK((bytes.size() - tensors["w"].values.size() * 8 - 3 * 8) % 8 == 0);
  const auto back = attrib::parse_safetensors(std::string_view(bytes));
  CHECK(back.metadata.at("k") == "v");
  REQUIRE(back.tensors.size() == 3);
  CHECK(back.tensors.at("w").shape == std::vector<attrib::index>{3, 2});
  CHECK(back.tensors.at("w").values == tensors["w"].values);
  CHECK(back.tensors.at("b").values == tensors["b"].values);
  CHECK(back.tensors.at("empty").values.size() == 0);

  const auto single = attrib::serialize_safetensors(tensors, attrib::tensor_dtype::f32);
  const auto narrowed = attrib::parse_safetensors(std::string_view(single));
  CHECK(narrowed.tensors.at("w").dtype == attrib::tensor_dtype::f32);
  CHECK((narrowed.tensors.at("w").values - tensors["w"].values).cwiseAbs().maxCoeff() < 1e-6);

  // 1, -2, 65504 (largest half), 2^-24 (smallest subnormal half) as F16; 1 and -0.5 as BF16.
  const std::string halves("\x00\x3C\x00\xC0\xFF\x7B\x01\x00", 8);
  const std::string bfloats("\x80\x3F\x00\xBF", 4);
  const auto decoded = attrib::parse_safetensors(
      raw_safetensors(R"({"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
                      R"("g":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})",
                      halves + bfloats));
  CHECK(decoded.tensors.at("h").values ==
        (vector(4) << 1.0, -2.0, 65504.0, std::ldexp(1.0, -24)).finished());
  CHECK(decoded.tensors.at("g").values == (vector(2) << 1.0, -0.5).finished());
}

TEST_CASE("safetensors: every malformation is a format_error naming it") {
  using attrib::format_error;
  const std::string eight(8, '\0');
  auto parse = [](const std::string& header, const std::string& data) {
    return attrib::parse_safetensors(raw_safetensors(header, data), "t.safetensors");
  };
  CHECK_THROWS_WITH_AS(attrib::parse_safetensors(std::string_view("abc"), "t.safetensors"),
                       doctest::Contains("t.safetensors: invalid safetensors: file has 3 bytes"),
                       format_error);
  CHECK_THROWS_WITH_AS(
      attrib::parse_safetensors(std::string_view(std::string("\xff\0\0\0\0\0\0\0{}", 10))),
      doctest::Contains("header length 255 exceeds"), format_error);
  CHECK_THROWS_WITH_AS(parse("{nope", ""), doctest::Contains("not valid JSON"), format_error);
  CHECK_THROWS_WITH_AS(parse("[1]", ""), doctest::Contains("not a JSON object"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"t":{"dtype":"F64","shape":[1]}})", eight),
                       doctest::Contains("tensor 't': expected an object with exactly"),
                       format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"t":{"dtype":"Q7","shape":[1],"data_offsets":[0,8]}})", eight),
                       doctest::Contains("unknown dtype 'Q7'"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", eight),
                       doctest::Contains("unsupported dtype 'I32'"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"t":{"dtype":"F64","shape":[-1],"data_offsets":[0,8]}})", eight),
                       doctest::Contains("non-negative integers"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"t":{"dtype":"F64","shape":[1],"data_offsets":[0,16]}})", eight),
                       doctest::Contains("outside the 8-byte data buffer"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", eight),
                       doctest::Contains("tensor 't': data_offsets span 8 bytes"), format_error);
  CHECK_THROWS_WITH_AS(
      parse(R"({"t":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight),
      doctest::Contains("overflows"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                             eight),
                       doctest::Contains("overlaps"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
                       doctest::Contains("belong to no tensor"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight),
                       doctest::Contains("tensors cover 4"), format_error);
  CHECK_THROWS_WITH_AS(parse(R"({"__metadata__":{"k":1}})", ""),
                       doctest::Contains("__metadata__ entry 'k'"), format_error);
  CHECK_THROWS_WITH_AS(attrib::read_safetensors("/nonexistent/w.safetensors"),
                       doctest::Contains("/nonexistent/w.safetensors"), format_error);
}

TEST_CASE("model files round trip with identical predictions") {
  scratch_dir dir;
  attrib::logistic_regression binary(random_matrix(1, 4, 9), vector::Constant(1, 0.5));
  attrib::logistic_regression multi(random_matrix(3, 4, 10), vector(random_matrix(3, 1, 11)),
                                    attrib::logistic_output::logit);
  multi.set_standardizer(attrib::standardizer(vector::Ones(4), vector::Constant(4, 2.0)));
  attrib::linear_regression linear(random_matrix(1, 4, 12), vector::Constant(1, -1.0));
  const std::vector<attrib::any_model> models{
      sample_mlp(), attrib::any_model(binary, {{}, {"no", "yes"}}), attrib::any_model(multi),
      attrib::any_model(linear, {{"p", "q", "r", "s"}, {}})};
  for (const auto& model : models) {
    CAPTURE(model.type());
    SUBCASE("inline JSON, in memory") {
      const auto serialized = attrib::serialize_model(model);
      CHECK(serialized.config.find("\"weights\": {") != std::string::npos);
      check_same_predictions(model, attrib::parse_model(serialized.config));
    }
    SUBCASE("inline JSON file") {
      attrib::save_model(dir.path / "m.json", model);
      check_same_predictions(model, attrib::load_model(dir.path / "m.json"));
    }
    SUBCASE("safetensors weights") {
      attrib::save_model(dir.path / "m.json", model, {.weights_file = "m.safetensors"});
      CHECK(fs::exists(dir.path / "m.safetensors"));
      check_same_predictions(model, attrib::load_model(dir.path / "m.json"));
    }
    SUBCASE("f32 safetensors weights") {
      attrib::save_model(
          dir.path / "m.json", model,
          {.weights_file = "m.safetensors", .weights_dtype = attrib::tensor_dtype::f32});
      check_same_predictions(model, attrib::load_model(dir.path / "m.json"), 1e-5);
    }
  }
  const auto loaded = attrib::parse_model(attrib::serialize_model(models[0]).config);
  const auto& net = std::get<attrib::mlp>(loaded.underlying());
  CHECK(net.l2() == 0.01);
  CHECK(net.layers()[0].act == attrib::activation::gelu);
}

TEST_CASE("model files: every inconsistency is a format_error naming the field") {
  using attrib::format_error;
  const auto base = nlohmann::json::parse(attrib::serialize_model(sample_mlp()).config);
  auto parse_with = [&](auto&& edit) {
    auto config = base;
    edit(config);
    return attrib::parse_model(config.dump(), nullptr, "m.json");
  };
  using json = nlohmann::json;
  CHECK_NOTHROW(parse_with([](json&) {}));
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["version"] = 2; }),
                       doctest::Contains("m.json: field 'version'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["format"] = "onnx"; }),
                       doctest::Contains("field 'format'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c.erase("type"); }),
                       doctest::Contains("field 'type': missing"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["type"] = "forest"; }),
                       doctest::Contains("unknown model type 'forest'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["inputs"] = 0; }),
                       doctest::Contains("field 'inputs'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["colour"] = "red"; }),
                       doctest::Contains("field 'colour': unknown field"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["layers"][0]["activation"] = "swish"; }),
                       doctest::Contains("field 'layers[0].activation'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["layers"][1].erase("out"); }),
                       doctest::Contains("field 'layers[1].out': missing"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["layers"][1]["in"] = 6; }),
                       doctest::Contains("field 'layers[1].in'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) {
                         c["outputs"] = 2;
                         c.erase("class_names");
                       }),
                       doctest::Contains("field 'layers': the last layer has out = 3"),
                       format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["output"] = "tanh"; }),
                       doctest::Contains("field 'output'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["weights"].erase("layers.1.bias"); }),
                       doctest::Contains("missing tensor 'layers.1.bias'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) {
                         c["weights"]["layers.1.bias"] = {1, 2};
                       }),
                       doctest::Contains("tensor 'layers.1.bias' has shape [2], expected [3]"),
                       format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["weights"]["layers.0.weight"][1] = {1}; }),
                       doctest::Contains("field 'weights.layers.0.weight'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["weights"]["extra"] = {1}; }),
                       doctest::Contains("unexpected tensor 'extra'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["weights"] = "w.safetensors"; }),
                       doctest::Contains("field 'weights'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) {
                         c["standardize"]["mean"] = {1, 2};
                       }),
                       doctest::Contains("field 'standardize.mean'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["standardize"]["scale"][0] = 0; }),
                       doctest::Contains("field 'standardize.scale'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["class_names"] = {"a"}; }),
                       doctest::Contains("field 'class_names'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) {
                         c["feature_names"] = {"a", 1};
                       }),
                       doctest::Contains("field 'feature_names'"), format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) { c["l2"] = -1; }), doctest::Contains("field 'l2'"),
                       format_error);
  CHECK_THROWS_WITH_AS(parse_with([](json& c) {
                         c["type"] = "linear_regression";
                         c.erase("layers");
                       }),
                       doctest::Contains("field 'outputs'"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_model("{]", nullptr, "m.json"),
                       doctest::Contains("m.json: the model config is not valid JSON"),
                       format_error);

  // Tensors from a safetensors file are checked the same way, non-finite values included.
  attrib::tensor_map tensors =
      attrib::serialize_model(sample_mlp(), {.weights_file = "w.safetensors"}).tensors;
  auto config = base;
  config["weights"] = "w.safetensors";
  CHECK_NOTHROW(attrib::parse_model(config.dump(), &tensors));
  tensors["layers.0.bias"].values[2] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH_AS(attrib::parse_model(config.dump(), &tensors),
                       doctest::Contains("non-finite value at flat index 2"), format_error);
  CHECK_THROWS_WITH_AS(attrib::load_model("/nonexistent/m.json"),
                       doctest::Contains("/nonexistent/m.json"), format_error);
}

TEST_CASE("train_test_split is seeded, disjoint and complete") {
  attrib::labelled_dataset data;
  data.features = random_matrix(10, 2, 3);
  data.labels = attrib::vector::LinSpaced(10, 0, 9);
  const auto a = attrib::train_test_split(data, 0.8, 5), b = attrib::train_test_split(data, 0.8, 5);
  CHECK(a.train.labels == b.train.labels);
  CHECK(a.train.features.rows() == 8);
  CHECK(a.test.features.rows() == 2);
  std::vector<double> all(a.train.labels.data(), a.train.labels.data() + 8);
  all.insert(all.end(), a.test.labels.data(), a.test.labels.data() + 2);
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 10; ++i) CHECK(all[static_cast<std::size_t>(i)] == i);
  for (Eigen::Index i = 0; i < 8; ++i)  // features travel with their labels
    CHECK(a.train.features.row(i) == data.features.row(static_cast<Eigen::Index>(a.train.labels(i))));
  CHECK(attrib::train_test_split(data, 0.8, 6).train.labels != a.train.labels);
  CHECK_THROWS_WITH_AS(attrib::train_test_split(data, 1.0, 1), doctest::Contains("train_fraction must be in (0, 1)"),
                       attrib::invalid_argument);
}

TEST_CASE("json: documents nested deeper than json_max_depth are refused before parsing, in every reader") {
  using attrib::format_error;
  using attrib::detail::parse_json;
  // 100,000 levels in 200 KB: once a stack overflow where an error message quoted the value.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THROWS_WITH_AS(parse_json(deep, "x.json"),
                       doctest::Contains("x.json: JSON nested deeper than 128 levels (at byte 128)"),
                       format_error);
  const std::string deepest_allowed = std::string(128, '[') + std::string(128, ']');
  CHECK(parse_json(deepest_allowed, "x.json").is_array());
  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 129; ++i) s += "{\"a\":";
    return s + "1" + std::string(129, '}');
  }();
  CHECK_THROWS_WITH_AS(parse_json(objects, "o.json"), doctest::Contains("nested deeper"), format_error);
  // Brackets inside strings, escaped quotes among them, are text, not nesting.
  const std::string in_string = "[\"\\\"" + std::string(1000, '[') + "\"]";
  CHECK(parse_json(in_string, "s.json").size() == 1);
  CHECK_THROWS_WITH_AS(parse_json("{nope", "n.json", "the config"),
                       doctest::Contains("n.json: the config is not valid JSON"), format_error);

  // Each reader of JSON goes through the limit.
  CHECK_THROWS_WITH_AS(attrib::parse_model("{\"a\":" + deep + "}", nullptr, "m.json"),
                       doctest::Contains("m.json: JSON nested deeper"), format_error);
  CHECK_THROWS_WITH_AS(attrib::parse_safetensors(raw_safetensors("{\"a\":" + deep + "}", ""), "t.safetensors"),
                       doctest::Contains("t.safetensors: JSON nested deeper"), format_error);
}

TEST_CASE("json: an error message quotes a value in one short line, never the whole of it") {
  using attrib::detail::json_excerpt;
  using json = nlohmann::json;
  CHECK(json_excerpt(json::parse("12")) == "12");
  CHECK(json_excerpt(json::parse("[\"LlamaForCausalLM\"]")) == "[\"LlamaForCausalLM\"]");
  CHECK(json_excerpt(json::parse("[[1], [2]]")) == "an array of 2 values");
  CHECK(json_excerpt(json::parse("{\"a\": 1}")) == "an object of 1 member");
  CHECK(json_excerpt(json(std::string(1000, 'a'))) == "\"" + std::string(64, 'a') + "\"... (1000 bytes)");
  // A cut through a two-byte character leaves a replacement character, not an exception.
  std::string accents = "a";
  for (int i = 0; i < 40; ++i) accents += "\xc3\xa9";
  CHECK(json_excerpt(json(accents)).find("\xef\xbf\xbd") != std::string::npos);
  // A model config whose count is a deeply nested array (within the limit) is described, not dumped.
  std::string nested = std::string(100, '[') + std::string(100, ']');
  CHECK_THROWS_WITH_AS(attrib::parse_model(R"({"format": "attrib-model", "version": )" + nested + "}",
                                           nullptr, "v.json"),
                       doctest::Contains("got an array of 1 value"), attrib::format_error);
}

TEST_CASE("csv: a byte-order mark is skipped, and a first line is a header only when it cannot be numbers") {
  const auto bom = attrib::parse_csv("\xEF\xBB\xBF" "1,2\n3,4\n", "b.csv");
  CHECK(bom.header.empty());
  CHECK(bom.values.rows() == 2);
  CHECK(bom.values(0, 0) == 1.0);
  const auto named = attrib::parse_csv("\xEF\xBB\xBF" "a,b\n3,4\n", "b.csv");
  CHECK(named.header == std::vector<std::string>{"a", "b"});
  // One malformed cell must not make a data row vanish as a "header".
  CHECK_THROWS_WITH_AS(attrib::parse_csv("1,x,3\n4,5,6\n", "m.csv"),
                       doctest::Contains("m.csv: line 1: the first line mixes 2 numbers with 1 other cells"),
                       attrib::format_error);
  const auto told = attrib::parse_csv("1,x,3\n4,5,6\n", "m.csv", attrib::csv_header::present);
  CHECK(told.header == std::vector<std::string>{"1", "x", "3"});
  CHECK(told.values.rows() == 1);
  CHECK_THROWS_WITH_AS(attrib::parse_csv("1,x,3\n4,5,6\n", "m.csv", attrib::csv_header::absent),
                       doctest::Contains("line 1, column 2: expected a number, got 'x'"), attrib::format_error);
  // A numeric first line told to be a header is one.
  CHECK(attrib::parse_csv("1,2\n3,4\n", "n.csv", attrib::csv_header::present).values.rows() == 1);
}

TEST_CASE("atomic_file_writer: the target appears whole or not at all, and an old one survives a failed write") {
  scratch_dir dir;
  const fs::path target = dir.path / "out.csv";
  attrib::write_file_atomically(target, "old\n");
  {
    attrib::atomic_file_writer file(target);
    file.stream() << "new but unfinished";
    // destroyed without commit, as when an exception unwinds the writer
  }
  CHECK(attrib::detail::read_file_bytes(target) == "old\n");
  {
    attrib::atomic_file_writer file(target);
    file.stream() << "new\n";
    CHECK(attrib::detail::read_file_bytes(target) == "old\n");  // not visible before commit
    file.commit();
  }
  CHECK(attrib::detail::read_file_bytes(target) == "new\n");
  // Nothing but the target is left in the folder.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);
  CHECK_THROWS_WITH_AS(attrib::write_file_atomically(dir.path, "x"), doctest::Contains("is a directory"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::write_file_atomically(dir.path / "no" / "such" / "f.csv", "x"),
                       doctest::Contains("cannot open file for writing"), attrib::format_error);
}

TEST_CASE("atomic_file_writer: a device is written in place, never renamed over") {
  // `--out /dev/null` once replaced the device with a regular file when run as root.
  const fs::path null_device = "/dev/null";
  if (!fs::is_character_file(null_device)) return;  // no such device here: nothing to check
  attrib::write_file_atomically(null_device, "discarded\n");
  CHECK(fs::is_character_file(null_device));
  CHECK(attrib::detail::read_file_bytes(null_device).empty());
  {
    attrib::atomic_file_writer file(null_device);
    file.stream() << "unfinished";
  }  // dropped without commit: the device stays
  CHECK(fs::is_character_file(null_device));
}

TEST_CASE("model files: weights must be a regular file inside the config's folder") {
  scratch_dir dir;
  const auto model = sample_mlp();
  attrib::save_model(dir.path / "m.json", model, {.weights_file = "m.safetensors"});
  check_same_predictions(model, attrib::load_model(dir.path / "m.json"));
  fs::create_directories(dir.path / "sub" / "w");
  attrib::save_model(dir.path / "sub" / "n.json", model, {.weights_file = "w/n.safetensors"});  // a subfolder is inside
  const std::string config = attrib::detail::read_file_bytes(dir.path / "m.json");
  const auto with_weights = [&](const std::string& name) {
    auto json = nlohmann::json::parse(config);
    json["weights"] = name;
    const fs::path path = dir.path / "sub" / "bad.json";
    attrib::write_file_atomically(path, json.dump());
    return path;
  };
  CHECK_THROWS_WITH_AS(attrib::load_model(with_weights("/dev/zero")), doctest::Contains("weights '/dev/zero' is an absolute path"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::load_model(with_weights("../m.safetensors")),
                       doctest::Contains("leaves the folder of"), attrib::format_error);
  fs::create_symlink("/dev/zero", dir.path / "sub" / "zero");
  CHECK_THROWS_WITH_AS(attrib::load_model(with_weights("zero")), doctest::Contains("weights 'zero' is not a regular file"),
                       attrib::format_error);
  fs::create_symlink(dir.path / "m.safetensors", dir.path / "sub" / "out");
  CHECK_THROWS_WITH_AS(attrib::load_model(with_weights("out")), doctest::Contains("outside the folder of"),
                       attrib::format_error);
  CHECK_THROWS_WITH_AS(attrib::load_model(with_weights("")), doctest::Contains("is empty"), attrib::format_error);
  // Saving: the weights may not be the config itself, nor leave its folder.
  CHECK_THROWS_WITH_AS(attrib::save_model(dir.path / "x.json", model, {.weights_file = "x.json"}),
                       doctest::Contains("is the model file"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::save_model(dir.path / "x.json", model, {.weights_file = "../x.safetensors"}),
                       doctest::Contains("leaves the folder"), attrib::format_error);
  CHECK_FALSE(fs::exists(dir.path / "x.json"));
}
