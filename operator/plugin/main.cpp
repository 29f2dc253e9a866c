// kubectl-shoal: Shoal's kubectl plugin (kubectl finds it on PATH and runs
// it for `kubectl shoal ...`). Everything is in shoal_plugin (cli.h).
#include <iostream>

#include "shoal/plugin/cli.h"

int main(int argc, char** argv) {
  return shoal::plugin::runPlugin(argc, argv, std::cin, std::cout, std::cerr);
}
