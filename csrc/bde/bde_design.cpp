// Butterworth band-pass design as second-order sections, with a cache.
//
// Follows the textbook path that scipy.signal.butter(output="sos") takes:
// analog low-pass prototype -> pre-warped low-pass to band-pass transform ->
// bilinear transform; then conjugate poles are paired into sections. Tests
// compare the resulting filters against scipy's in float64.
#include "bde.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace edgeaffect {
namespace bde {
namespace {

using cplx = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

std::vector<Section> design_uncached(double fs, double low, double high, int order) {
  // Bilinear transform at an internal sampling rate of 2 (normalised
  // frequencies, as scipy does): s = 4 (z - 1) / (z + 1).
  const double fs2 = 4.0;
  const double w1 = fs2 * std::tan(kPi * low / fs);
  const double w2 = fs2 * std::tan(kPi * high / fs);
  const double bw = w2 - w1;
  const double wo = std::sqrt(w1 * w2);

  std::vector<cplx> poles;
  poles.reserve(2 * order);
  for (int m = -order + 1; m < order; m += 2) {
    const cplx p_lp = -std::exp(cplx(0.0, kPi * m / (2.0 * order)));
    const cplx p_half = p_lp * (bw / 2.0);
    const cplx root = std::sqrt(p_half * p_half - wo * wo);
    for (cplx p : {p_half + root, p_half - root}) poles.push_back((fs2 + p) / (fs2 - p));
  }

  // Pair poles into sections: each complex pole with its conjugate, and the
  // real poles (only for very wide bands) two by two.
  std::vector<std::pair<double, double>> denominators;  // (a1, a2)
  std::vector<double> real_poles;
  for (const cplx& p : poles) {
    if (std::abs(p.imag()) > 1e-12 * std::max(1.0, std::abs(p))) {
      if (p.imag() > 0) denominators.emplace_back(-2.0 * p.real(), std::norm(p));
    } else {
      real_poles.push_back(p.real());
    }
  }
  std::sort(real_poles.begin(), real_poles.end());
  for (std::size_t i = 0; i + 1 < real_poles.size(); i += 2)
    denominators.emplace_back(-(real_poles[i] + real_poles[i + 1]), real_poles[i] * real_poles[i + 1]);
  if (static_cast<int>(denominators.size()) != order)
    throw std::runtime_error("internal error: Butterworth pole pairing produced the wrong number of sections");

  // Sort by pole radius (closest to the unit circle last), as scipy does:
  // the sharpest resonances see an already band-limited signal.
  std::sort(denominators.begin(), denominators.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });

  // Unit magnitude of every section at the band centre, which the bilinear
  // transform maps from the analog centre wo to 2 * atan(wo / fs2).
  const double wc = 2.0 * std::atan(wo / fs2);
  const cplx z1 = std::exp(cplx(0.0, -wc));
  const cplx z2 = z1 * z1;
  std::vector<Section> sections;
  for (const auto& [a1, a2] : denominators) {
    const double g = std::abs(1.0 + a1 * z1 + a2 * z2) / std::abs(1.0 - z2);
    sections.push_back({g, a1, a2});
  }
  return sections;
}

void check_parameters(double fs, double low, double high, int order) {
  std::ostringstream msg;
  if (!(fs > 0) || !std::isfinite(fs)) {
    msg << "fs=" << fs << " must be a positive, finite sampling rate in Hz";
  } else if (!(low > 0) || !std::isfinite(low)) {
    msg << "band (" << low << ", " << high << "): low=" << low << " must be > 0 Hz";
  } else if (!(low < high)) {
    msg << "band (" << low << ", " << high << "): low must be < high";
  } else if (!(2.0 * high < fs)) {
    msg << "band (" << low << ", " << high << "): high=" << high << " Hz must be below the Nyquist frequency fs/2="
        << fs / 2.0 << " Hz; use a higher sampling rate or a lower band edge";
  } else if (order < 1 || order > 16) {
    msg << "order=" << order << " must be between 1 and 16";
  } else {
    return;
  }
  throw std::invalid_argument(msg.str());
}

std::mutex g_cache_mutex;
std::map<std::tuple<double, double, double, int>, std::vector<Section>> g_cache;

}  // namespace

std::vector<Section> design_bandpass(double fs, double low, double high, int order) {
  check_parameters(fs, low, high, order);
  const auto key = std::make_tuple(fs, low, high, order);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = g_cache.find(key);
  if (it == g_cache.end()) it = g_cache.emplace(key, design_uncached(fs, low, high, order)).first;
  return it->second;
}

std::shared_ptr<const FilterBank> make_filter_bank(double fs, const std::vector<std::pair<double, double>>& bands,
                                                   int order) {
  if (bands.empty()) throw std::invalid_argument("bands is empty: give at least one (low, high) pair in Hz");
  auto bank = std::make_shared<FilterBank>();
  bank->fs = fs;
  bank->order = order;
  bank->bands = bands;
  for (const auto& [low, high] : bands) {
    const auto sections = design_bandpass(fs, low, high, order);
    bank->sections.insert(bank->sections.end(), sections.begin(), sections.end());
  }
  return bank;
}

std::size_t design_cache_size() {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return g_cache.size();
}

double entropy_from_sums(double sum, double sumsq, std::int64_t n, double log_base) {
  const double mean = sum / static_cast<double>(n);
  // Rounding can leave a tiny negative for an all-zero signal; its DE is -inf.
  const double var = std::max(sumsq / static_cast<double>(n) - mean * mean, 0.0);
  const double nats = 0.5 * std::log(2.0 * kPi * std::exp(1.0) * var);
  return log_base > 0 ? nats / std::log(log_base) : nats;
}

}  // namespace bde
}  // namespace edgeaffect
