// The attention CPU kernel compiled for the "avx2" instruction set (flags
// come from CMakeLists.txt; attention_cpu.cpp picks a build at run time).
#include <cstdint>
#include <type_traits>

#include "../common/simd.h"
#include "attention.h"

namespace edgeaffect {
namespace attention {
namespace avx2 {
#include "attention_cpu_kernel.inc"
}  // namespace avx2
}  // namespace attention
}  // namespace edgeaffect
