// Build facts for `edgeaffect info`.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../bde/bde_cpu.h"
#include "register.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace py = pybind11;

namespace edgeaffect {

void register_info(py::module_& m) {
  m.def("build_info", []() {
    py::dict d;
#if defined(__clang__)
    d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    d["compiler"] = std::string("gcc ") + __VERSION__;
#endif
#if defined(_OPENMP)
    d["openmp"] = true;
    d["openmp_version"] = _OPENMP;
    d["openmp_max_threads"] = omp_get_max_threads();
#else
    d["openmp"] = false;
    d["openmp_max_threads"] = 1;
#endif
    d["simd_compiled"] = bde::compiled_simd_levels();
    d["build_type"] = EDGEAFFECT_BUILD_TYPE;
    d["system_processor"] = EDGEAFFECT_SYSTEM_PROCESSOR;
    return d;
  });
  m.def("simd_level", &bde::cpu_simd_level,
        "Instruction set the kernels use on this CPU (EDGEAFFECT_SIMD=baseline|avx2|avx512 overrides).");
}

}  // namespace edgeaffect
