#pragma once
// Results as bytes, for gathering them between processes of the same build (the MPI layer and the
// attrib tool's ranks check that the builds match before they exchange anything): every field as
// it lies in memory, doubles bit for bit. Not a file format: nothing here is meant to outlive the
// run or cross machines of another byte order. The reader checks every length against what is
// left, so a message cut short is named instead of read past its end.
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib::detail {

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
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void put(const std::vector<T>& v) {
    put(v.size());
    bytes_.append(reinterpret_cast<const char*>(v.data()), sizeof(T) * v.size());
  }
  void put(const vector& v) { put_doubles(v.data(), static_cast<std::size_t>(v.size())); }
  void put(const matrix& m) {
    put(m.rows());
    put(m.cols());
    put_doubles(m.data(), static_cast<std::size_t>(m.size()));
  }
  std::string take() { return std::move(bytes_); }

 private:
  void put_doubles(const double* data, std::size_t n) {
    put(n);
    bytes_.append(reinterpret_cast<const char*>(data), sizeof(double) * n);
  }
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
    const std::size_t n = count(1);
    s.assign(bytes_, at_, n);
    at_ += n;
  }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void get(std::vector<T>& v) {
    const std::size_t n = count(sizeof(T));
    v.resize(n);
    if (n > 0) std::memcpy(v.data(), bytes_.data() + at_, n * sizeof(T));
    at_ += n * sizeof(T);
  }
  void get(vector& v) {
    const std::size_t n = count(sizeof(double));
    v.resize(static_cast<index>(n));
    copy_doubles(v.data(), n);
  }
  void get(matrix& m) {
    index rows = 0, cols = 0;
    get(rows);
    get(cols);
    const std::size_t n = count(sizeof(double));
    require(rows >= 0 && cols >= 0 && static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) == n,
            "a gathered matrix holds " + std::to_string(n) + " values for " + std::to_string(rows) + " x " +
                std::to_string(cols) + "; do all processes run the same build?");
    m.resize(rows, cols);
    copy_doubles(m.data(), n);
  }

 private:
  // A length prefix, checked against the bytes left before anything is allocated for it.
  std::size_t count(std::size_t element_size) {
    std::size_t n = 0;
    get(n);
    require(n <= (bytes_.size() - at_) / element_size,
            "a gathered result announces " + std::to_string(n) + " elements of " + std::to_string(element_size) +
                " bytes but " + std::to_string(bytes_.size() - at_) + " bytes are left; do all processes run the same build?");
    return n;
  }
  void copy_doubles(double* to, std::size_t n) {
    if (n > 0) std::memcpy(to, bytes_.data() + at_, n * sizeof(double));
    at_ += n * sizeof(double);
  }
  void need(std::size_t n) const {
    require(n <= bytes_.size() - at_, "a gathered result is cut short (" + std::to_string(bytes_.size() - at_) +
                                          " bytes left, " + std::to_string(n) +
                                          " expected); do all processes run the same build?");
  }
  const std::string& bytes_;
  std::size_t at_ = 0;
};

}  // namespace attrib::detail
