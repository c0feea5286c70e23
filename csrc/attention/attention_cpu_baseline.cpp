// The attention CPU kernel compiled for the "baseline" instruction set (flags
// come from CMakeLists.txt; attention_cpu.cpp picks a build at run time).
#include <cstdint>
#include <type_traits>

#include "../common/simd.h"
#include "attention.h"

namespace edgeaffect {
namespace attention {
namespace baseline {
#include "attention_cpu_kernel.inc"
}  // namespace baseline
}  // namespace attention
}  // namespace edgeaffect
