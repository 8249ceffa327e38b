#pragma once
// What the translation units of the Python module share: keyword options read as the command
// line's options, numpy batches in and out, and the binding functions of each part.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <set>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "attrib/core/types.hpp"

namespace attrib_python {

namespace py = pybind11;

// Keyword options as the command line's options: target_se=0.01 is --target-se 0.01. Only
// `valued` names are accepted (others raise with the name); --quiet is always on, since Python
// callers read diagnostics from the returned objects, not from standard error. None means absent.
cli::arguments options_from(const py::dict& options, const std::set<std::string>& valued);

// A 1-D or 2-D array of numbers as a matrix (a vector becomes one row when `one_row_per_vector`,
// else one column); `what` names it in errors. NaN and infinities are refused.
attrib::matrix matrix_from(const py::handle& array, const std::string& what, bool one_row_per_vector = true);
// A 1-D array of numbers.
attrib::vector vector_from(const py::handle& array, const std::string& what);

void bind_models(py::module_& m);
void bind_features(py::module_& m);
void bind_interactions(py::module_& m);
void bind_guided_l2x(py::module_& m);
void bind_data(py::module_& m);
void bind_graphs(py::module_& m);
void bind_transformer(py::module_& m);

}  // namespace attrib_python
