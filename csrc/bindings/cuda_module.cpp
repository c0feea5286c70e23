// edgeaffect._C_cuda: the CUDA kernels. Importing it never needs a GPU (the
// CUDA runtime is linked statically); device_info() says what is usable.
#include <cuda_runtime.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "../bde/bde.h"
#include "../attention/attention_cuda.h"
#include "../bde/bde_cuda.h"

namespace py = pybind11;

namespace edgeaffect {
namespace {

using Bands = std::vector<std::pair<double, double>>;

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Device memory that frees itself.
struct DeviceBuffer {
  void* ptr = nullptr;
  explicit DeviceBuffer(std::size_t bytes) { check(cudaMalloc(&ptr, bytes), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

py::dict device_info() {
  py::dict d;
  int driver = 0, runtime = 0, count = 0;
  cudaRuntimeGetVersion(&runtime);
  d["runtime_version"] = runtime;
  d["compiled_archs"] = std::string(EDGEAFFECT_CUDA_ARCHS);
  const cudaError_t derr = cudaDriverGetVersion(&driver);
  d["driver_version"] = derr == cudaSuccess ? driver : 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    d["device_count"] = 0;
    d["error"] = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls report afresh
    return d;
  }
  d["device_count"] = count;
  py::list devices;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    check(cudaGetDeviceProperties(&p, i), "cudaGetDeviceProperties");
    py::dict dev;
    dev["name"] = std::string(p.name);
    dev["compute_capability"] = std::to_string(p.major) + "." + std::to_string(p.minor);
    dev["memory_bytes"] = static_cast<std::size_t>(p.totalGlobalMem);
    dev["multiprocessors"] = p.multiProcessorCount;
    devices.append(dev);
  }
  d["devices"] = devices;
  return d;
}

// Host arrays in, host array out: copies to the device and back.
template <typename T>
py::array_t<T> bde_host(py::array_t<T, py::array::c_style> x, double fs, const Bands& bands, int order,
                        double log_base) {
  if (x.ndim() != 3) throw std::invalid_argument("x must be (windows, channels, samples)");
  const auto bank = bde::make_filter_bank(fs, bands, order);
  const std::int64_t w = x.shape(0), c = x.shape(1), s = x.shape(2);
  const std::int64_t nb = static_cast<std::int64_t>(bands.size());
  py::array_t<T> out({w, c, nb});
  const T* in = x.data();
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    DeviceBuffer dx(sizeof(T) * w * c * s), dout(sizeof(T) * w * c * nb);
    check(cudaMemcpy(dx.ptr, in, sizeof(T) * w * c * s, cudaMemcpyHostToDevice), "cudaMemcpy (BDE input)");
    bde::band_differential_entropy_cuda<T>(*bank, static_cast<const T*>(dx.ptr), w, c, s, log_base,
                                           static_cast<T*>(dout.ptr));
    check(cudaMemcpy(o, dout.ptr, sizeof(T) * w * c * nb, cudaMemcpyDeviceToHost), "cudaMemcpy (BDE output)");
  }
  return out;
}

// Device pointers in and out (from __cuda_array_interface__ on the Python side).
template <typename T>
void bde_device(std::uintptr_t x, std::uintptr_t out, std::int64_t w, std::int64_t c, std::int64_t s, double fs,
                const Bands& bands, int order, double log_base) {
  const auto bank = bde::make_filter_bank(fs, bands, order);
  py::gil_scoped_release release;
  bde::band_differential_entropy_cuda<T>(*bank, reinterpret_cast<const T*>(x), w, c, s, log_base,
                                         reinterpret_cast<T*>(out));
}

}  // namespace
}  // namespace edgeaffect

PYBIND11_MODULE(_C_cuda, m) {
  using namespace edgeaffect;
  m.doc() = "edgeaffect CUDA kernels";
  m.def("device_info", &device_info);
  m.def("bde_f32", &bde_host<float>, py::arg("x"), py::arg("fs"), py::arg("bands"), py::arg("order"),
        py::arg("log_base"));
  m.def("bde_f64", &bde_host<double>, py::arg("x"), py::arg("fs"), py::arg("bands"), py::arg("order"),
        py::arg("log_base"));
  m.def("bde_device_f32", &bde_device<float>);
  m.def("bde_device_f64", &bde_device<double>);
  // Attention on device pointers (from __cuda_array_interface__ on the Python side).
  m.def("attention_device", [](std::uintptr_t q, std::uintptr_t k, std::uintptr_t v, std::uintptr_t bias,
                               std::uintptr_t out, long long batch, int heads, int length, int dim,
                               long long bias_batch, int bias_heads, float scale, bool half) {
    py::gil_scoped_release release;
    const float* b = reinterpret_cast<const float*>(bias);
    if (half)
      attention::attention_cuda_f16(reinterpret_cast<const void*>(q), reinterpret_cast<const void*>(k),
                                    reinterpret_cast<const void*>(v), b, batch, heads, length, dim, bias_batch,
                                    bias_heads, scale, reinterpret_cast<void*>(out));
    else
      attention::attention_cuda_f32(reinterpret_cast<const float*>(q), reinterpret_cast<const float*>(k),
                                    reinterpret_cast<const float*>(v), b, batch, heads, length, dim, bias_batch,
                                    bias_heads, scale, reinterpret_cast<float*>(out));
  });
}
