// pybind11 bindings of the native Swin-SE (FER student) engine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <stdexcept>
#include <string>

#include "../swinengine/swinengine.h"
#include "register.h"
#include "weight_map.h"

namespace py = pybind11;

namespace edgeaffect {

void register_swinengine(py::module_& m) {
  using swinengine::Config;
  using swinengine::Engine;
  py::class_<Engine>(m, "SwinEngine")
      .def(py::init([](py::dict cfg, py::dict weights) {
             Config c;
             c.image = cfg["image"].cast<int>();
             c.stem = cfg["stem"].cast<int>();
             c.dim = cfg["dim"].cast<int>();
             c.classes = cfg["classes"].cast<int>();
             c.depths = cfg["depths"].cast<std::vector<int>>();
             c.heads = cfg["heads"].cast<std::vector<int>>();
             c.windows = cfg["windows"].cast<std::vector<int>>();
             c.mlp_hidden = cfg["mlp_hidden"].cast<std::vector<int>>();
             c.se_hidden = cfg["se_hidden"].cast<std::vector<int>>();
             return new Engine(c, weight_map(weights));
           }),
           py::arg("config"), py::arg("weights"))
      .def(
          "forward",
          [](const Engine& e, py::array_t<float, py::array::c_style | py::array::forcecast> faces, int threads) {
            const auto& c = e.config();
            if (faces.ndim() != 4 || faces.shape(1) != 1 || faces.shape(2) != c.image || faces.shape(3) != c.image)
              throw std::invalid_argument("faces must be (batch, 1, " + std::to_string(c.image) + ", " +
                                          std::to_string(c.image) + ")");
            py::array_t<float> out({static_cast<py::ssize_t>(faces.shape(0)), static_cast<py::ssize_t>(c.classes)});
            const float* in = faces.data();
            float* o = out.mutable_data();
            const int batch = static_cast<int>(faces.shape(0));
            {
              py::gil_scoped_release release;
              e.forward(in, batch, o, threads);
            }
            return out;
          },
          py::arg("faces"), py::arg("threads") = 1);
}

}  // namespace edgeaffect
