// The extension module attrib._attrib: C++ errors become Python exceptions carrying the C++
// message (option names spelled as Python keywords), and the parts are bound.
#include <cctype>
#include <cmath>
#include <exception>
#include <string>

#include "bindings.hpp"
#include "attrib/core/error.hpp"

namespace attrib_python {

namespace {

// "--target-se" in a command-line message is the keyword target_se here.
std::string as_keywords(std::string message) {
  for (std::size_t at; (at = message.find(" (see --help)")) != std::string::npos;) message.erase(at, 13);
  std::string out;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const bool option = message.compare(i, 2, "--") == 0 && i + 2 < message.size() &&
                        std::islower(static_cast<unsigned char>(message[i + 2])) != 0;
    if (!option) {
      out += message[i];
      continue;
    }
    i += 2;
    for (; i < message.size() && (std::islower(static_cast<unsigned char>(message[i])) != 0 ||
                                  std::isdigit(static_cast<unsigned char>(message[i])) != 0 || message[i] == '-');
         ++i)
      out += message[i] == '-' ? '_' : message[i];
    --i;
  }
  return out;
}

}  // namespace

cli::arguments options_from(const py::dict& options, const std::set<std::string>& valued) {
  std::vector<std::string> args{"--quiet"};
  for (const auto& [key, value] : options) {
    if (value.is_none()) continue;
    std::string name = py::str(key);
    for (char& c : name)
      if (c == '_') c = '-';
    std::string text;
    if (py::isinstance<py::bool_>(value))
      throw attrib::invalid_argument("option " + std::string(py::str(key)) + " takes a number or a name, not a bool");
    if (py::isinstance<py::int_>(value) || py::isinstance<py::str>(value))
      text = py::str(value);
    else if (py::isinstance<py::float_>(value))
      text = py::repr(value);  // repr round-trips a double exactly
    else if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
      for (const auto& item : value) text += (text.empty() ? "" : ",") + std::string(py::str(item));
    } else {
      throw attrib::invalid_argument("option " + std::string(py::str(key)) + " has type " +
                                     std::string(py::str(value.get_type().attr("__name__"))) +
                                     "; expected a number, a string or a list of numbers");
    }
    args.push_back("--" + name + "=" + text);
  }
  return cli::arguments(args, valued, {"quiet"});
}

attrib::matrix matrix_from(const py::handle& array, const std::string& what, bool one_row_per_vector) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!a) throw attrib::invalid_argument(what + " is not an array of numbers");
  if (a.ndim() != 1 && a.ndim() != 2)
    throw attrib::invalid_argument(what + " has " + std::to_string(a.ndim()) + " dimensions; expected 1 or 2");
  const auto rows = a.ndim() == 1 ? (one_row_per_vector ? 1 : a.shape(0)) : a.shape(0);
  const auto cols = a.ndim() == 1 ? (one_row_per_vector ? a.shape(0) : 1) : a.shape(1);
  attrib::matrix m(rows, cols);
  const double* data = a.data();
  for (py::ssize_t r = 0; r < rows; ++r)
    for (py::ssize_t c = 0; c < cols; ++c) {
      const double v = data[r * cols + c];
      if (!std::isfinite(v))
        throw attrib::invalid_argument(what + " holds " + std::to_string(v) + " at [" + std::to_string(r) + ", " +
                                       std::to_string(c) + "]; expected finite numbers");
      m(r, c) = v;
    }
  return m;
}

attrib::vector vector_from(const py::handle& array, const std::string& what) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!a || a.ndim() != 1)
    throw attrib::invalid_argument(what + " must be a 1-D array of numbers" +
                                   (a ? ", got " + std::to_string(a.ndim()) + " dimensions" : std::string()));
  attrib::vector v(a.shape(0));
  for (py::ssize_t i = 0; i < a.shape(0); ++i) {
    if (!std::isfinite(a.data()[i]))
      throw attrib::invalid_argument(what + " holds " + std::to_string(a.data()[i]) + " at [" + std::to_string(i) +
                                     "]; expected finite numbers");
    v(i) = a.data()[i];
  }
  return v;
}

}  // namespace attrib_python

PYBIND11_MODULE(_attrib, m) {
  namespace py = pybind11;
  m.doc() = "attrib's C++ core; import attrib, not this module";
  static py::exception<attrib::format_error> format_error(m, "FormatError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const attrib::format_error& e) {
      PyErr_SetString(format_error.ptr(), attrib_python::as_keywords(e.what()).c_str());
    } catch (const attrib::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, attrib_python::as_keywords(e.what()).c_str());
    } catch (const cli::usage_error& e) {
      PyErr_SetString(PyExc_ValueError, attrib_python::as_keywords(e.what()).c_str());
    }
  });
  attrib_python::bind_models(m);
  attrib_python::bind_features(m);
  attrib_python::bind_interactions(m);
  attrib_python::bind_guided_l2x(m);
  attrib_python::bind_data(m);
  attrib_python::bind_graphs(m);
  attrib_python::bind_transformer(m);
}
