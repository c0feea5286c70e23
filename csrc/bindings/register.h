// One register_* function per bound component, called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace edgeaffect {
void register_bde(pybind11::module_& m);
void register_info(pybind11::module_& m);
void register_attention(pybind11::module_& m);
void register_rbengine(pybind11::module_& m);
void register_swinengine(pybind11::module_& m);
}  // namespace edgeaffect
