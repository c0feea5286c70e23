// edgeaffect._C: the CPU native core.
#include <pybind11/pybind11.h>

#include "register.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "edgeaffect native CPU core (band differential entropy, fused attention, native RBTransformer and Swin-SE engines, build facts)";
  edgeaffect::register_info(m);
  edgeaffect::register_bde(m);
  edgeaffect::register_attention(m);
  edgeaffect::register_rbengine(m);
  edgeaffect::register_swinengine(m);
}
