// libFuzzer target: the knowledge-editing request reader. invalid_argument is the only acceptable
// failure; requests that parse have their required fields and a subject inside the prompt.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attrib/studies/edit_requests.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto requests = attrib::parse_edit_requests(text, "<fuzz>");
    if (requests.empty()) std::abort();
    for (const auto& r : requests)
      if (r.prompt.empty() || r.subject.empty() || r.new_object.empty() || r.prompt.find(r.subject) == std::string::npos)
        std::abort();
  } catch (const attrib::invalid_argument&) {
  }
  return 0;
}
