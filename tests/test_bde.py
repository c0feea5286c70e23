"""Band differential entropy: native kernels against the float64 scipy oracle."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from conftest import OUTSIDE_SOURCE, RTOL, max_rel_error
from edgeaffect import _native
from edgeaffect.features import BAND_PRESETS, band_differential_entropy
from edgeaffect.features.reference import band_differential_entropy_reference, bandpass_sos

DTYPES = [np.float64, np.float32]


def reference(x, fs, bands="torcheeg", order=5, log_base=None):
    band_list = list(BAND_PRESETS[bands]) if isinstance(bands, str) else bands
    return band_differential_entropy_reference(np.asarray(x, np.float64), fs, band_list, order, log_base)


@pytest.mark.parametrize("fs,low,high,order", [(200, 1, 4, 5), (128, 4, 8, 5), (1000, 1, 4, 4), (256, 30, 45, 8),
                                               (160, 0.5, 79, 3), (200, 14, 31, 1), (250, 8, 10, 6)])
def test_filter_design_matches_scipy(fs, low, high, order):
    ours = _native.cpu_module().design_bandpass_sos(fs, low, high, order)
    theirs = bandpass_sos(fs, low, high, order)
    w = np.linspace(1e-3, np.pi - 1e-3, 2000)
    _, h_ours = signal.sosfreqz(ours, w)
    _, h_theirs = signal.sosfreqz(theirs, w)
    # Same transfer function (the sections may be paired or scaled differently).
    assert np.max(np.abs(h_ours - h_theirs)) < 1e-9


def test_filter_design_is_cached():
    module = _native.cpu_module()
    module.design_bandpass_sos(123.0, 3.0, 7.0, 5)
    size = module.design_cache_size()
    for _ in range(3):
        module.design_bandpass_sos(123.0, 3.0, 7.0, 5)
    assert module.design_cache_size() == size


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 7, 333), (1, 1, 200), (5, 33, 401), (2, 65, 257), (7, 62, 200)])
def test_native_matches_reference_at_odd_sizes(rng, dtype, shape):
    x = (rng.standard_normal(shape) * 20 + rng.uniform(-50, 50, size=shape[:-1] + (1,))).astype(dtype)
    out = band_differential_entropy(x, fs=200)
    assert out.dtype == dtype and out.shape == shape[:2] + (5,)
    assert max_rel_error(out, reference(x, 200)) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_presets_orders_and_log_base(rng, dtype):
    x = (rng.standard_normal((4, 32, 384)) * 10).astype(dtype)
    for bands, order, log_base in [("deap", 5, None), ("deap", 3, 2.0), ("torcheeg", 7, 10.0)]:
        out = band_differential_entropy(x, fs=128, bands=bands, order=order, log_base=log_base)
        assert max_rel_error(out, reference(x, 128, bands, order, log_base)) <= RTOL[dtype]


def test_two_dimensional_input_and_custom_bands(rng):
    x = rng.standard_normal((9, 500)) * 30
    bands = [(2.0, 5.5), (13.0, 40.0)]
    out = band_differential_entropy(x, fs=250, bands=bands)
    assert out.shape == (9, 2)
    assert max_rel_error(out, reference(x, 250, bands)) <= RTOL[np.float64]


def test_bits_are_torcheeg_units(rng):
    x = rng.standard_normal((2, 4, 200)) * 15
    nats = band_differential_entropy(x, fs=200)
    bits = band_differential_entropy(x, fs=200, log_base=2)
    np.testing.assert_allclose(bits, nats / np.log(2), rtol=1e-12)


def test_threads_give_identical_results(rng):
    x = rng.standard_normal((17, 62, 200)).astype(np.float32)
    assert np.array_equal(band_differential_entropy(x, 200, threads=1), band_differential_entropy(x, 200, threads=2))


def test_non_contiguous_input_is_copied(rng):
    x = rng.standard_normal((62, 3, 400)).transpose(1, 0, 2)  # (3, 62, 400), not C-contiguous
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(band_differential_entropy(x, 200), band_differential_entropy(x.copy(), 200))


def test_known_answer_sinusoid_in_one_band():
    """A 10 Hz sine of amplitude A has variance A^2/2; inside the alpha band
    (8-14 Hz) the filter passes it, so alpha DE = 0.5 ln(2 pi e A^2 / 2 |H|^2),
    with |H(10 Hz)| from the filter's response; other bands see far less."""
    fs, amplitude, seconds = 200.0, 7.0, 30.0
    t = np.arange(int(seconds * fs)) / fs
    x = (amplitude * np.sin(2 * np.pi * 10.0 * t))[None, :]
    out = band_differential_entropy(x, fs)[0]
    gain = abs(signal.sosfreqz(bandpass_sos(fs, 8, 14, 5), worN=[10.0], fs=fs)[1][0])
    expected = 0.5 * np.log(2 * np.pi * np.e * amplitude**2 / 2 * gain**2)
    # The start-up transient is the only difference; over 30 s it is < 0.5%.
    assert abs(out[2] - expected) < 5e-3
    assert np.all(np.delete(out, 2) < expected - 2.0)


def test_zero_channel_gives_minus_infinity(rng):
    x = rng.standard_normal((2, 3, 200))
    x[1, 2] = 0.0
    out = band_differential_entropy(x, 200)
    assert np.all(np.isneginf(out[1, 2])) and np.all(np.isfinite(np.delete(out.reshape(6, 5), 5, axis=0)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_impl_through_the_public_api(rng, dtype):
    x = rng.standard_normal((2, 5, 300)).astype(dtype)
    out = band_differential_entropy(x, 200, impl="reference")
    assert out.dtype == dtype
    assert max_rel_error(out, reference(x, 200)) <= RTOL[dtype]


def _supported_simd_levels():
    module = _native.cpu_module()
    levels = []
    for level in module.build_info()["simd_compiled"]:
        probe = subprocess.run([sys.executable, "-c", "import edgeaffect._C as c; c.simd_level()"],
                               env={**os.environ, "EDGEAFFECT_SIMD": level}, capture_output=True, cwd=OUTSIDE_SOURCE)
        if probe.returncode == 0:
            levels.append(level)
    return levels


def test_every_simd_build_matches_reference(tmp_path, rng):
    """Each instruction-set build of the kernel (the baseline one is what
    other CPUs get) is checked, in a subprocess since the choice is made once
    per process."""
    x64 = rng.standard_normal((3, 37, 311)) * 25
    np.save(tmp_path / "x.npy", x64)
    ref = reference(x64, 200)
    levels = _supported_simd_levels()
    assert "baseline" in levels
    for level in levels:
        for dtype in ("float64", "float32"):
            code = (f"import numpy as np; from edgeaffect.features import band_differential_entropy as b; "
                    f"x = np.load(r'{tmp_path / 'x.npy'}').astype('{dtype}'); "
                    f"np.save(r'{tmp_path / 'out.npy'}', b(x, 200).astype('float64'))")
            subprocess.run([sys.executable, "-c", code], env={**os.environ, "EDGEAFFECT_SIMD": level}, check=True,
                           cwd=OUTSIDE_SOURCE)
            err = max_rel_error(np.load(tmp_path / "out.npy"), ref)
            assert err <= RTOL[np.dtype(dtype).type], f"{level} {dtype}: {err}"


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_kernel_matches_cpu_kernel(rng, dtype):
    reason = _native.cuda_module_reason()
    if reason:
        pytest.skip(reason)
    for shape in [(3, 7, 333), (32, 62, 200), (1, 1, 97 + 103)]:
        x = (rng.standard_normal(shape) * 20).astype(dtype)
        cpu = band_differential_entropy(x, 200, impl="native")
        gpu = band_differential_entropy(x, 200, impl="cuda")
        assert gpu.dtype == dtype
        assert max_rel_error(gpu, cpu.astype(np.float64)) <= RTOL[dtype]
        assert max_rel_error(gpu, reference(x, 200)) <= RTOL[dtype]
    bad = (rng.standard_normal((3, 7, 333)) * 20).astype(dtype)
    bad[1, 2, 50] = np.nan  # must reach the output as NaN, not as the -inf of a silent channel
    with pytest.raises(ValueError, match=r"non-finite samples .* at index \(1, 2, 50\)"):
        band_differential_entropy(bad, 200, impl="cuda")


@pytest.mark.gpu
def test_cuda_kernel_on_gpu_arrays(rng):
    reason = _native.cuda_module_reason()
    if reason:
        pytest.skip(reason)
    cupy = pytest.importorskip("cupy", reason="CuPy is needed for GPU-resident arrays")
    x = (rng.standard_normal((5, 33, 401)) * 20).astype(np.float32)
    out = band_differential_entropy(cupy.asarray(x), 200)
    assert isinstance(out, cupy.ndarray) and out.dtype == np.float32
    assert max_rel_error(cupy.asnumpy(out), reference(x, 200)) <= RTOL[np.float32]
    bad = x.copy()
    bad[2, 3, 100] = np.nan
    with pytest.raises(ValueError, match=r"non-finite samples \(the first at index \(2, 3, 100\)\)"):
        band_differential_entropy(cupy.asarray(bad), 200)
