// Which instruction-set build of the CPU kernels runs on this CPU. Every op
// compiles its kernel once per level (x86: avx512, avx2, baseline; other
// CPUs: baseline) and asks here which one to use.
#pragma once

#include <string>
#include <vector>

namespace edgeaffect {

// Levels compiled into this build, best first.
const std::vector<std::string>& compiled_cpu_levels();

// The level in use: the best one this CPU supports, or EDGEAFFECT_SIMD when
// set (an unsupported or unknown level throws std::runtime_error saying so).
const std::string& selected_cpu_level();

}  // namespace edgeaffect
