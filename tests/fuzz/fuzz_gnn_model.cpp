// libFuzzer target: the GCN and GIN text model loaders. format_error is the only acceptable
// failure; a model that loads predicts a probability distribution and survives a save and reload
// exactly.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "attrib/models/gnn/gcn.hpp"
#include "attrib/models/gnn/gin.hpp"

namespace {

template <class Model>
void check(const Model& model) {
  // Two connected nodes with every feature 0.5.
  attrib::gcn_input in;
  in.features = attrib::matrix::Constant(2, model.inputs(), 0.5);
  in.adjacency = attrib::matrix::Ones(2, 2) - attrib::matrix::Identity(2, 2);
  const attrib::vector p = model.probabilities(in);
  if (p.size() != model.classes()) std::abort();
  std::stringstream saved;
  model.save(saved);
  const Model again = Model::load(saved);
  const attrib::vector q = again.probabilities(in);
  for (attrib::index k = 0; k < p.size(); ++k)
    if (!(p(k) == q(k)) && !(std::isnan(p(k)) && std::isnan(q(k)))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::istringstream in(text);
    if (text.rfind("attrib-gin", 0) == 0)
      check(attrib::gin::load(in));
    else
      check(attrib::gcn::load(in));
  } catch (const attrib::format_error&) {
  }
  return 0;
}
