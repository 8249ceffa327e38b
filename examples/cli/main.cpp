// attrib: the command-line face of the library. Each subcommand is a thin layer over the
// headers: parse options, load files, call one library function, write CSV.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"

#ifndef ATTRIB_VERSION
#define ATTRIB_VERSION "unknown"
#endif

namespace {

const char* usage = R"(usage: attrib <command> [options]

commands:
  explain   feature attributions of a saved model for the rows of a CSV file
  train     fit a model (mlp, logistic or linear regression) on a CSV and save it
  data      data-attribution scores of training points for test rows (influence, TRAK, LOO, ...);
            'data split' splits a labelled table into training and test files
  graph     train a GCN or GIN on a TU-format graph dataset; explain a graph node by node (HN value, ...)
  llm       inspect, run, trace, patch and attribute a transformer checkpoint (.gguf, llama2.c .bin
            or a Hugging Face directory); 'llm study' compares a base model with its
            post-trained versions

Run 'attrib <command> --help' (or -h) for the options of a command, 'man attrib' for all of them;
'attrib --version' for the version. Options take a value as '--name value' or '--name=value'; '-'
as an input table is standard input, as an output file standard output. Exit status: 0 on
success, 1 when an input is refused or a run fails, 2 for a usage error.
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "--version" || command == "-V") {
    std::cout << "attrib " << ATTRIB_VERSION << "\n";
    return 0;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "explain") return cli::explain(args);
    if (command == "train") return cli::train(args);
    if (command == "data") return cli::data(args);
    if (command == "llm") return cli::llm(args);
    if (command == "graph") return cli::graph(args);
    std::cerr << "attrib: unknown command '" << command << "'\n" << usage;
    return 2;
  } catch (const cli::usage_error& e) {
    std::cerr << "attrib " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "attrib " << command << ": " << e.what() << "\n";
    return 1;
  }
}
