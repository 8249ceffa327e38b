#pragma once
// attributions as bytes for gathering between ranks of the same build (the launch fingerprint
// checks that): every field as it lies in memory, doubles bit for bit.
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "attrib/core/attribution.hpp"
#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib::mpi::detail {

class wire_writer {
 public:
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void put(const T& v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put(const std::string& s) {
    put(s.size());
    bytes_ += s;
  }
  void put(const vector& v) {
    put(static_cast<std::size_t>(v.size()));
    bytes_.append(reinterpret_cast<const char*>(v.data()), sizeof(double) * static_cast<std::size_t>(v.size()));
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class wire_reader {
 public:
  explicit wire_reader(const std::string& bytes) : bytes_(bytes) {}
  bool done() const { return at_ == bytes_.size(); }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void get(T& v) {
    need(sizeof v);
    std::memcpy(&v, bytes_.data() + at_, sizeof v);
    at_ += sizeof v;
  }
  void get(std::string& s) {
    std::size_t n = 0;
    get(n);
    need(n);
    s.assign(bytes_, at_, n);
    at_ += n;
  }
  void get(vector& v) {
    std::size_t n = 0;
    get(n);
    need(n * sizeof(double));
    v.resize(static_cast<index>(n));
    std::memcpy(v.data(), bytes_.data() + at_, n * sizeof(double));
    at_ += n * sizeof(double);
  }

 private:
  void need(std::size_t n) const {
    attrib::detail::require(n <= bytes_.size() - at_, "attrib::mpi: a gathered attribution is cut short (" +
                                                          std::to_string(bytes_.size() - at_) + " bytes left, " +
                                                          std::to_string(n) + " expected); do all ranks run the same build?");
  }
  const std::string& bytes_;
  std::size_t at_ = 0;
};

// Every field of an attribution, in wire order, handed to `f` (a writer's put or a reader's
// get): the one list both directions follow, so they cannot disagree.
template <class A, class F>
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

inline std::string to_wire(const std::vector<attribution>& results) {
  wire_writer w;
  w.put(results.size());
  for (const attribution& r : results) each_field(r, [&](const auto& field) { w.put(field); });
  return w.take();
}

inline void from_wire(const std::string& bytes, std::vector<attribution>& out) {
  wire_reader in(bytes);
  std::size_t n = 0;
  in.get(n);
  for (std::size_t i = 0; i < n; ++i) {
    attribution r;
    each_field(r, [&](auto& field) { in.get(field); });
    out.push_back(std::move(r));
  }
  attrib::detail::require(in.done(), "attrib::mpi: a gathered attribution list has trailing bytes; do all ranks run "
                                     "the same build?");
}

}  // namespace attrib::mpi::detail
