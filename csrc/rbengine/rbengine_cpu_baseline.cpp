// The RBTransformer engine's hot loops compiled for the "baseline" instruction
// set (flags from CMakeLists.txt; rbengine.cpp picks a build at run time).
#include <cstdint>

#include "../common/simd.h"
#include "rbengine_kernels.h"

namespace edgeaffect {
namespace rbengine {
namespace baseline {
#include "rbengine_cpu_kernel.inc"
}  // namespace baseline
}  // namespace rbengine
}  // namespace edgeaffect
