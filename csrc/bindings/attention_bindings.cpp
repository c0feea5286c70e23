// pybind11 bindings of the CPU attention kernel; shapes are checked in
// edgeaffect/ops/attention.py, the memory contract here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>

#include "../attention/attention.h"
#include "register.h"

namespace py = pybind11;

namespace edgeaffect {
namespace {

using Array = py::array_t<float, py::array::c_style>;

// Returns (out, number of (batch, head) slices with a non-finite output).
py::tuple attention_f32(Array q, Array k, Array v, std::optional<Array> bias, float scale, int threads) {
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) throw std::invalid_argument("q, k, v must be 4-D");
  const std::int64_t b = q.shape(0), h = q.shape(1), l = q.shape(2), d = q.shape(3);
  for (const Array* t : {&k, &v})
    for (int i = 0; i < 4; ++i)
      if (t->shape(i) != q.shape(i)) throw std::invalid_argument("q, k and v must have the same shape");
  std::int64_t bias_batch = 1, bias_heads = 1;
  const float* bias_ptr = nullptr;
  if (bias) {
    if (bias->ndim() != 4 || bias->shape(2) != l || bias->shape(3) != l)
      throw std::invalid_argument("bias must be (bias_batch, 1 or heads, L, L)");
    bias_batch = bias->shape(0);
    bias_heads = bias->shape(1);
    bias_ptr = bias->data();
  }
  Array out({b, h, l, d});
  const float *qp = q.data(), *kp = k.data(), *vp = v.data();
  float* op = out.mutable_data();
  std::int64_t non_finite = 0;
  {
    py::gil_scoped_release release;
    non_finite = attention::attention_cpu(qp, kp, vp, bias_ptr, b, h, l, d, bias_batch, bias_heads, scale, threads, op);
  }
  return py::make_tuple(out, non_finite);
}

}  // namespace

void register_attention(py::module_& m) {
  m.def("attention_f32", &attention_f32, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("bias"), py::arg("scale"),
        py::arg("threads"), "softmax(q k^T * scale + bias) v over (batch, heads, L, d) float32");
}

}  // namespace edgeaffect
