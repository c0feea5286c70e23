// The BDE CPU kernel compiled for the "baseline" instruction set (flags come from
// CMakeLists.txt; bde_cpu.cpp picks a build at run time).
#include <cstdint>
#include <type_traits>

#include "../common/simd.h"
#include "bde_kernels.h"

namespace edgeaffect {
namespace bde {
namespace baseline {
#include "bde_cpu_kernel.inc"
const char* simd_level() { return EDGEAFFECT_SIMD_LEVEL; }
}  // namespace baseline
}  // namespace bde
}  // namespace edgeaffect
