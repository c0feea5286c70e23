// Runs the native Swin-SE engine on weights and faces from files and prints
// the logits, one per line. Built by tests/test_portability.py for other
// architectures (aarch64) to compare their results with this machine's.
//
// usage: swinengine_probe INDEX.txt WEIGHTS.bin FACES.bin BATCH THREADS
// INDEX.txt: "image stem dim classes stages", then per stage one line
// "depth heads window mlp_hidden se_hidden", then "weights N" and N lines
// "name count"; WEIGHTS.bin holds those float32 arrays back to back, in
// that order; FACES.bin holds BATCH x image x image float32 values.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "../../csrc/common/cpu_dispatch.h"
#include "../../csrc/swinengine/swinengine.h"

namespace {

std::vector<float> read_floats(std::ifstream& in, std::size_t n) {
  std::vector<float> v(n);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (!in) throw std::runtime_error("a binary file ended early");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s INDEX.txt WEIGHTS.bin FACES.bin BATCH THREADS\n", argv[0]);
    return 2;
  }
  std::ifstream index(argv[1]);
  edgeaffect::swinengine::Config cfg;
  int stages = 0;
  index >> cfg.image >> cfg.stem >> cfg.dim >> cfg.classes >> stages;
  for (int i = 0; i < stages; ++i) {
    int depth, heads, window, mlp, se;
    index >> depth >> heads >> window >> mlp >> se;
    cfg.depths.push_back(depth);
    cfg.heads.push_back(heads);
    cfg.windows.push_back(window);
    cfg.mlp_hidden.push_back(mlp);
    cfg.se_hidden.push_back(se);
  }
  std::string word;
  std::size_t count = 0;
  index >> word >> count;
  std::ifstream blob(argv[2], std::ios::binary);
  std::map<std::string, std::vector<float>> weights;
  for (std::size_t i = 0; i < count; ++i) {
    std::string name;
    std::size_t n = 0;
    index >> name >> n;
    weights[name] = read_floats(blob, n);
  }
  if (!index) {
    std::fprintf(stderr, "could not read %s\n", argv[1]);
    return 2;
  }
  const int batch = std::stoi(argv[4]), threads = std::stoi(argv[5]);
  std::ifstream faces_file(argv[3], std::ios::binary);
  const std::vector<float> faces = read_floats(faces_file, static_cast<std::size_t>(batch) * cfg.image * cfg.image);
  const edgeaffect::swinengine::Engine engine(cfg, weights);
  std::vector<float> logits(static_cast<std::size_t>(batch) * cfg.classes);
  engine.forward(faces.data(), batch, logits.data(), threads);
  std::fprintf(stderr, "simd %s\n", edgeaffect::selected_cpu_level().c_str());
  for (float v : logits) std::printf("%.9g\n", v);
  return 0;
}
