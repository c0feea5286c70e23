// Band differential entropy (BDE): shared math and the device-independent API.
//
// Per band, a Butterworth band-pass of order N (2N poles) is designed as N
// second-order sections, applied causally, and the differential entropy of
// the filtered window, 0.5 * ln(2*pi*e*var), is returned per
// (window, channel, band).
//
// Every section of a Butterworth band-pass has the numerator g * (1 - z^-2)
// (one zero at z = +1 and one at z = -1), so a section is fully described by
// (g, a1, a2):  y[t] = g * (x[t] - x[t-2]) - a1 * y[t-1] - a2 * y[t-2].
// Each section's gain g is set so that it has unit magnitude at the band's
// centre frequency; the cascade then has the exact Butterworth gain and no
// section amplifies its input by orders of magnitude (good for float32).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace edgeaffect {
namespace bde {

struct Section {
  double g, a1, a2;
};

// All bands of one request: bands x order sections, band-major.
struct FilterBank {
  double fs = 0;
  int order = 0;
  std::vector<std::pair<double, double>> bands;
  std::vector<Section> sections;  // size bands.size() * order
  int num_bands() const { return static_cast<int>(bands.size()); }
};

// Designs (or returns from the process-wide cache) the band-pass sections for
// one (fs, low, high, order). Throws std::invalid_argument on bad parameters.
std::vector<Section> design_bandpass(double fs, double low, double high, int order);

// The filter bank for a list of bands; every band comes from the cache.
std::shared_ptr<const FilterBank> make_filter_bank(double fs, const std::vector<std::pair<double, double>>& bands,
                                                   int order);

// Number of cache entries (for tests and `edgeaffect info`).
std::size_t design_cache_size();

// DE from accumulated sums of the filtered signal: natural log when
// log_base <= 0, otherwise log in that base.
double entropy_from_sums(double sum, double sumsq, std::int64_t n, double log_base);

}  // namespace bde
}  // namespace edgeaffect
