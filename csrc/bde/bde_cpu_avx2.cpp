// The BDE CPU kernel compiled for the "avx2" instruction set (flags come from
// CMakeLists.txt; bde_cpu.cpp picks a build at run time).
#include <cstdint>
#include <type_traits>

#include "../common/simd.h"
#include "bde_kernels.h"

namespace edgeaffect {
namespace bde {
namespace avx2 {
#include "bde_cpu_kernel.inc"
const char* simd_level() { return EDGEAFFECT_SIMD_LEVEL; }
}  // namespace avx2
}  // namespace bde
}  // namespace edgeaffect
