// pybind11 bindings of the native RBTransformer engine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <stdexcept>
#include <string>

#include "../rbengine/rbengine.h"
#include "register.h"
#include "weight_map.h"

namespace py = pybind11;

namespace edgeaffect {

void register_rbengine(py::module_& m) {
  using rbengine::Config;
  using rbengine::Engine;
  py::class_<Engine>(m, "RBEngine")
      .def(py::init([](py::dict cfg, py::dict weights) {
             Config c;
             c.electrodes = cfg["electrodes"].cast<int>();
             c.bands = cfg["bands"].cast<int>();
             c.dim = cfg["dim"].cast<int>();
             c.depth = cfg["depth"].cast<int>();
             c.heads = cfg["heads"].cast<int>();
             c.head_dim = cfg["head_dim"].cast<int>();
             c.ff = cfg["ff"].cast<int>();
             c.outputs = cfg["outputs"].cast<int>();
             return new Engine(c, weight_map(weights));
           }),
           py::arg("config"), py::arg("weights"))
      .def(
          "forward",
          [](const Engine& e, py::array_t<float, py::array::c_style | py::array::forcecast> tokens) {
            const auto& c = e.config();
            if (tokens.ndim() != 3 || tokens.shape(1) != c.electrodes || tokens.shape(2) != c.bands)
              throw std::invalid_argument("tokens must be (batch, " + std::to_string(c.electrodes) + ", " +
                                          std::to_string(c.bands) + ")");
            py::array_t<float> out({static_cast<py::ssize_t>(tokens.shape(0)), static_cast<py::ssize_t>(c.outputs)});
            const float* in = tokens.data();
            float* o = out.mutable_data();
            const int batch = static_cast<int>(tokens.shape(0));
            {
              py::gil_scoped_release release;
              e.forward(in, batch, o);
            }
            return out;
          },
          py::arg("tokens"));
}

}  // namespace edgeaffect
