#pragma once
// Explanations as bytes (wire.hpp): attributions, interaction matrices and interaction terms, and
// lists of them, for the MPI layer and the attrib tool's ranks to gather results computed
// elsewhere. Each type's fields are listed once (each_field), for writing and reading alike, so
// the two directions cannot disagree.
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/interaction_attribution.hpp"
#include "attrib/io/detail/wire.hpp"

namespace attrib::detail {

template <class A, class F>
  requires std::is_same_v<std::remove_const_t<A>, attribution>
void each_field(A& r, F&& f) {
  f(r.method);
  f(r.values);
  f(r.base_value);
  f(r.prediction);
  f(r.standard_errors);
  f(r.game_evaluations);
  f(r.model_evaluations);
  f(r.fit);  // trivially copyable: doubles, a size and two flags
}

template <class A, class F>
  requires std::is_same_v<std::remove_const_t<A>, interaction_attribution>
void each_field(A& r, F&& f) {
  f(r.method);
  f(r.values);
  f(r.diagonal);
  f(r.standard_errors);
  f(r.row_totals);
  f(r.base_value);
  f(r.prediction);
  f(r.game_evaluations);
  f(r.model_evaluations);
}

template <class A, class F>
  requires std::is_same_v<std::remove_const_t<A>, interaction_term>
void each_field(A& t, F&& f) {
  f(t.players);
  f(t.value);
}

template <class R>
void put_result(wire_writer& w, const R& r) {
  each_field(r, [&](const auto& field) { w.put(field); });
}
template <class R>
void put_result(wire_writer& w, const std::vector<R>& list) {
  w.put(list.size());
  for (const R& r : list) put_result(w, r);
}

template <class R>
void get_result(wire_reader& in, R& r) {
  each_field(r, [&](auto& field) { in.get(field); });
}
// No reserve: the count comes off the wire, and every element read checks the bytes left.
template <class R>
void get_result(wire_reader& in, std::vector<R>& list) {
  std::size_t n = 0;
  in.get(n);
  for (std::size_t i = 0; i < n; ++i) get_result(in, list.emplace_back());
}

template <class R>
std::string to_wire(const std::vector<R>& results) {
  wire_writer w;
  put_result(w, results);
  return w.take();
}

// Appends the results in `bytes` to `out`.
template <class R>
void from_wire(const std::string& bytes, std::vector<R>& out) {
  wire_reader in(bytes);
  get_result(in, out);
  require(in.done(), "a gathered list of results has trailing bytes; do all processes run the same build?");
}

}  // namespace attrib::detail
