#include "cpu_dispatch.h"

#include <cstdlib>
#include <stdexcept>

namespace edgeaffect {
namespace {

bool supported(const std::string& level) {
#if defined(__x86_64__)
  if (level == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
  if (level == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return level == "baseline";
}

}  // namespace

const std::vector<std::string>& compiled_cpu_levels() {
#if defined(__x86_64__)
  static const std::vector<std::string> levels = {"avx512", "avx2", "baseline"};
#else
  static const std::vector<std::string> levels = {"baseline"};
#endif
  return levels;
}

const std::string& selected_cpu_level() {
  static const std::string chosen = [] {
    const char* forced = std::getenv("EDGEAFFECT_SIMD");
    std::string names;
    for (const std::string& level : compiled_cpu_levels()) {
      names += (names.empty() ? "" : ", ") + level;
      if (forced && *forced) {
        if (level != forced) continue;
        if (!supported(level))
          throw std::runtime_error(std::string("EDGEAFFECT_SIMD=") + forced +
                                   " is not supported by this CPU; unset it to pick the best level automatically");
        return level;
      }
      if (supported(level)) return level;
    }
    throw std::runtime_error(std::string("EDGEAFFECT_SIMD=") + (forced ? forced : "") +
                             " is not one of the compiled levels: " + names);
  }();
  return chosen;
}

}  // namespace edgeaffect
