#pragma once
// The subcommands of the attrib tool; each takes the arguments after its name.
#include <string>
#include <vector>

namespace cli {

int explain(const std::vector<std::string>& args);
int train(const std::vector<std::string>& args);
int llm(const std::vector<std::string>& args);
int llm_patch(const std::vector<std::string>& args);
int llm_attribute(const std::vector<std::string>& args);
int llm_components(const std::vector<std::string>& args);
int llm_noise_trace(const std::vector<std::string>& args);
int llm_study(const std::vector<std::string>& args);
int data(const std::vector<std::string>& args);
int data_split(const std::vector<std::string>& args);
int graph(const std::vector<std::string>& args);

}  // namespace cli
