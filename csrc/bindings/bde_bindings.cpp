// pybind11 bindings of the CPU BDE kernel and streaming state.
// Argument checking that needs Python context (names, shapes, NaN
// positions) happens in edgeaffect/features/bde.py; here we only guard the
// memory contract.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "../bde/bde.h"
#include "../bde/bde_cpu.h"
#include "register.h"

namespace py = pybind11;

namespace edgeaffect {
namespace {

using Bands = std::vector<std::pair<double, double>>;

template <typename T>
py::array_t<T> bde_batch(py::array_t<T, py::array::c_style> x, double fs, const Bands& bands, int order,
                         double log_base, int threads) {
  if (x.ndim() != 3) throw std::invalid_argument("x must be (windows, channels, samples)");
  const auto bank = bde::make_filter_bank(fs, bands, order);
  const std::int64_t w = x.shape(0), c = x.shape(1), s = x.shape(2);
  py::array_t<T> out({w, c, static_cast<std::int64_t>(bands.size())});
  const T* in = x.data();
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    bde::band_differential_entropy_cpu<T>(*bank, in, w, c, s, log_base, threads, o);
  }
  return out;
}

py::array_t<double> design_sos(double fs, double low, double high, int order) {
  const auto sections = bde::design_bandpass(fs, low, high, order);
  py::array_t<double> sos({static_cast<py::ssize_t>(sections.size()), py::ssize_t(6)});
  auto m = sos.mutable_unchecked<2>();
  for (py::ssize_t i = 0; i < m.shape(0); ++i) {
    const bde::Section& s = sections[i];
    const double row[6] = {s.g, 0.0, -s.g, 1.0, s.a1, s.a2};
    for (int j = 0; j < 6; ++j) m(i, j) = row[j];
  }
  return sos;
}

template <typename T>
void bind_streaming(py::module_& m, const char* name) {
  using S = bde::StreamingBde<T>;
  py::class_<S>(m, name)
      .def(py::init([](double fs, std::int64_t channels, std::int64_t window, std::int64_t hop, const Bands& bands,
                       int order, double log_base) {
             return new S(bde::make_filter_bank(fs, bands, order), channels, window, hop, log_base);
           }),
           py::arg("fs"), py::arg("channels"), py::arg("window"), py::arg("hop"), py::arg("bands"), py::arg("order"),
           py::arg("log_base"))
      .def(
          "push",
          [](S& self, py::array_t<T, py::array::c_style> chunk) {
            if (chunk.ndim() != 2 || chunk.shape(0) != self.channels())
              throw std::invalid_argument("chunk must be (channels, samples)");
            std::vector<T> out;
            std::int64_t k;
            {
              py::gil_scoped_release release;
              k = self.push(chunk.data(), chunk.shape(1), chunk.shape(1), out);
            }
            py::array_t<T> result({k, self.channels(), static_cast<std::int64_t>(self.num_bands())});
            std::copy(out.begin(), out.end(), result.mutable_data());
            return result;
          },
          py::arg("chunk"))
      .def("reset", &S::reset)
      .def_property_readonly("samples_seen", &S::samples_seen)
      .def_property_readonly("windows_emitted", &S::windows_emitted);
}

}  // namespace

void register_bde(py::module_& m) {
  m.def("bde_f32", &bde_batch<float>, py::arg("x"), py::arg("fs"), py::arg("bands"), py::arg("order"),
        py::arg("log_base"), py::arg("threads"));
  m.def("bde_f64", &bde_batch<double>, py::arg("x"), py::arg("fs"), py::arg("bands"), py::arg("order"),
        py::arg("log_base"), py::arg("threads"));
  m.def("design_bandpass_sos", &design_sos, py::arg("fs"), py::arg("low"), py::arg("high"), py::arg("order"),
        "Butterworth band-pass as scipy-style SOS rows [b0, b1, b2, 1, a1, a2] (cached per argument tuple).");
  m.def("design_cache_size", &bde::design_cache_size);
  bind_streaming<float>(m, "StreamingBdeF32");
  bind_streaming<double>(m, "StreamingBdeF64");
}

}  // namespace edgeaffect
