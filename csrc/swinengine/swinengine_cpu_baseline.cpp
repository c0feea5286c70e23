// The Swin engine's window attention compiled for the "baseline" instruction
// set (flags from CMakeLists.txt; swinengine.cpp picks a build at run time).
#include <cstdint>

#include "../common/simd.h"
#include "swinengine_kernels.h"

namespace edgeaffect {
namespace swinengine {
namespace baseline {
#include "swinengine_cpu_kernel.inc"
}  // namespace baseline
}  // namespace swinengine
}  // namespace edgeaffect
