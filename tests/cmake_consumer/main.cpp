#include <attrib/attrib.hpp>

int main() {
  attrib::rng r(1);
  return r.uniform() < 1.0 ? 0 : 1;
}
