#pragma once
// The MLP that `attrib train` and `attrib data` fit: its layer shapes from --hidden (widths, e.g.
// 16,16) and --activation, read the same way in both commands.
#include <cstdint>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "attrib/models/activation.hpp"
#include "attrib/models/mlp.hpp"

namespace cli {

// The largest MLP the tool builds: 10^8 parameters (800 MB of doubles, before Adam's two more
// copies). A few digits of --hidden must not ask for terabytes.
inline constexpr double mlp_parameter_limit = 1e8;

// Hidden layers of the --hidden widths with the --activation nonlinearity, then an identity layer
// to `outputs`; `inputs` features in. Usage errors name the option and the limit.
inline std::vector<attrib::layer_shape> mlp_layer_shapes(const arguments& a, Eigen::Index inputs, Eigen::Index outputs) {
  const std::string text = a.text("hidden", "16");
  const attrib::activation act = attrib::parse_activation(a.text("activation", "tanh"));
  std::vector<attrib::layer_shape> shapes;
  double parameters = 0.0;
  const auto add = [&](Eigen::Index width, attrib::activation f) {
    parameters += static_cast<double>(inputs + 1) * static_cast<double>(width);
    shapes.push_back({inputs, width, f});
    inputs = width;
  };
  for (const std::string& width : split(text, ',')) {
    if (width.empty() || width.size() > 7 || width.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(width) == 0)
      throw usage_error("--hidden expects positive layer widths of at most 7 digits like 16,16, got '" + text.substr(0, 80) +
                        "'");
    add(static_cast<Eigen::Index>(std::stoll(width)), act);
  }
  add(outputs, attrib::activation::identity);
  if (parameters > mlp_parameter_limit)
    throw usage_error("--hidden " + text.substr(0, 80) + " makes an MLP of " + std::to_string(static_cast<std::int64_t>(parameters)) +
                      " parameters, more than the limit of 10^8");
  return shapes;
}

}  // namespace cli
