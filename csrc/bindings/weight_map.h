// A Python dict of named float arrays (a torch state_dict as numpy) as the
// native engines' WeightMap; shared by their bindings.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "../rbengine/rbengine.h"

namespace edgeaffect {

inline rbengine::WeightMap weight_map(pybind11::dict weights) {
  namespace py = pybind11;
  rbengine::WeightMap w;
  for (auto item : weights) {
    auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(item.second);
    if (!array) throw std::invalid_argument("weights must be float32 arrays");
    w[item.first.cast<std::string>()] = std::vector<float>(array.data(), array.data() + array.size());
  }
  return w;
}

}  // namespace edgeaffect
