#ifdef ATTRIB_CONSUMER_EVERY_ROOM
#include <attrib/all.hpp>  // every room, so that the installed headers and dependencies are all checked
#else
#include <attrib/attrib.hpp>
#endif

int main() {
  attrib::rng r(1);
  return r.uniform() < 1.0 ? 0 : 1;
}
