// libFuzzer target: safetensors parsing. format_error is the only acceptable failure; for input
// that parses, the views of stored bytes must lie inside the input and match their shapes, and
// re-serialising and re-parsing must reproduce the tensors.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "attrib/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  attrib::safetensors_content content;
  try {
    content = attrib::parse_safetensors(std::as_bytes(std::span(data, size)));
  } catch (const attrib::format_error&) {
    return 0;
  }
  const auto view = attrib::parse_safetensors_view(std::as_bytes(std::span(data, size)));
  if (view.tensors.size() != content.tensors.size()) std::abort();
  for (const auto& [name, t] : view.tensors) {
    const auto* begin = reinterpret_cast<const std::uint8_t*>(t.bytes.data());
    if (!t.bytes.empty() && (begin < data || begin + t.bytes.size() > data + size)) std::abort();
    if (t.bytes.size() != static_cast<std::size_t>(content.tensors.at(name).values.size()) *
                              attrib::dtype_bytes(t.dtype))
      std::abort();
  }
  for (auto& [name, t] : content.tensors) t.dtype = attrib::tensor_dtype::f64;
  const auto again = attrib::parse_safetensors(std::string_view(
      attrib::serialize_safetensors(content.tensors, attrib::tensor_dtype::f64, content.metadata)));
  if (again.tensors.size() != content.tensors.size()) std::abort();
  for (const auto& [name, t] : content.tensors) {
    const auto& u = again.tensors.at(name);
    if (u.shape != t.shape || u.values.size() != t.values.size()) std::abort();
    for (attrib::index k = 0; k < t.values.size(); ++k)
      if (!(u.values[k] == t.values[k]) && !(std::isnan(u.values[k]) && std::isnan(t.values[k])))
        std::abort();
  }
  return 0;
}
