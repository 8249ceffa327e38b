// libFuzzer target: the model file. The input is a JSON config, optionally followed by a NUL
// byte and a safetensors file supplying the weights it names. format_error is the only
// acceptable failure; a model that loads must predict and survive a save and reload.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "attrib/io/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\0');
  std::optional<attrib::safetensors_content> weights;
  try {
    if (split != std::string_view::npos)
      weights = attrib::parse_safetensors(input.substr(split + 1));
    const auto model =
        attrib::parse_model(input.substr(0, split), weights ? &weights->tensors : nullptr);
    // Predictions on a small batch; the model may be large, so keep the batch tiny.
    const attrib::matrix x = attrib::matrix::Constant(2, model.input_dim(), 0.5);
    const attrib::matrix y = model.predict(x);
    if (y.rows() != 2 || y.cols() != model.output_dim()) std::abort();
    const auto again = attrib::parse_model(attrib::serialize_model(model).config);
    const attrib::matrix z = again.predict(x);
    for (attrib::index k = 0; k < y.size(); ++k)
      if (!(y.data()[k] == z.data()[k]) && !(std::isnan(y.data()[k]) && std::isnan(z.data()[k])))
        std::abort();
  } catch (const attrib::format_error&) {
  }
  return 0;
}
