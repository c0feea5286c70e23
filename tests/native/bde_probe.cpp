// Runs the CPU BDE kernel on a signal read from stdin (windows channels
// samples fs, then the samples) and prints the DE values, one per line.
// Built by tests/test_portability.py for other architectures (aarch64) to
// compare their results with this machine's.
#include <cstdio>
#include <vector>

#include "../../csrc/bde/bde_cpu.h"

int main() {
  long w = 0, c = 0, s = 0;
  double fs = 0;
  if (std::scanf("%ld %ld %ld %lf", &w, &c, &s, &fs) != 4) return 2;
  std::vector<double> x(w * c * s);
  for (double& v : x)
    if (std::scanf("%lf", &v) != 1) return 2;
  const auto bank = edgeaffect::bde::make_filter_bank(fs, {{1, 4}, {4, 8}, {8, 14}, {14, 31}, {31, 49}}, 5);
  std::vector<double> out(w * c * 5);
  edgeaffect::bde::band_differential_entropy_cpu<double>(*bank, x.data(), w, c, s, 0.0, 2, out.data());
  std::fprintf(stderr, "simd %s\n", edgeaffect::bde::cpu_simd_level().c_str());
  for (double v : out) std::printf("%.17g\n", v);
  return 0;
}
