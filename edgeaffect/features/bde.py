"""Band differential entropy (BDE): the EEG tokens RBTransformer reads.

Per band, a Butterworth band-pass (second-order sections, applied causally
from a zero state at the start of each window) filters the window, and the
differential entropy of a Gaussian with the filtered window's variance,
0.5 * ln(2*pi*e*var), is returned for every (window, channel, band).
"""

from __future__ import annotations

import numpy as np

from .. import _native
from .bands import BandsLike, resolve_bands
from .checks import (
    check_float_array,
    check_fs,
    check_log_base,
    check_order,
    check_threads,
    min_samples,
    raise_for_non_finite,
)
from .reference import band_differential_entropy_reference

IMPLS = ("auto", "native", "cuda", "reference")


def band_differential_entropy(
    x,
    fs: float,
    bands: BandsLike = "torcheeg",
    order: int = 5,
    log_base: float | None = None,
    impl: str = "auto",
    threads: int | None = None,
) -> np.ndarray:
    """Band differential entropy of EEG windows.

    Args:
        x: float32 or float64 array, (windows, channels, samples) or
            (channels, samples). Non-contiguous arrays are copied; integer
            arrays are rejected (convert them to physical units first).
        fs: sampling rate in Hz; every band's high edge must be below fs / 2.
        bands: a preset ("torcheeg": delta 1-4, theta 4-8, alpha 8-14,
            beta 14-31, gamma 31-49 Hz; "deap": theta 4-8, slow alpha 8-10,
            alpha 8-12, beta 12-30, gamma 30-45 Hz) or (low, high) pairs.
        order: Butterworth order per band (the band-pass has 2*order poles).
        log_base: None for nats; 2 gives torcheeg's units (bits).
        impl: "auto" (the native CPU kernel for host arrays, the CUDA kernel
            for GPU arrays), "native", "cuda" (copies a host x to the GPU and
            back) or "reference" (numpy/scipy, float64; the test oracle).
            GPU arrays (CuPy, or anything with __cuda_array_interface__,
            C-contiguous) stay on the GPU and give a CuPy array back.
        threads: CPU threads for the native kernel; None uses all cores.

    Returns:
        (windows, channels, bands), or (channels, bands) for 2-D input, in
        x's dtype. Windows must hold at least one period of the lowest band
        edge (fs / low samples). An all-zero channel has zero variance and
        gives -inf.

    Example:
        >>> import numpy as np
        >>> from edgeaffect.features import band_differential_entropy
        >>> t = np.arange(400) / 200.0
        >>> alpha = np.sin(2 * np.pi * 10 * t)[None, :]          # 1 channel, 10 Hz
        >>> de = band_differential_entropy(alpha, fs=200)        # (1, 5)
        >>> int(de[0].argmax())                                  # the alpha band (8-14 Hz)
        2
    """
    fs = check_fs(fs)
    band_list = resolve_bands(bands, fs)
    order = check_order(order)
    log_base = check_log_base(log_base)
    n_threads = check_threads(threads)
    if impl not in IMPLS:
        raise ValueError(f"impl={impl!r} must be one of {IMPLS}")
    if hasattr(x, "__cuda_array_interface__"):
        if impl not in ("auto", "cuda"):
            raise ValueError(f"x is a GPU array but impl={impl!r} runs on the CPU; use impl='cuda' or copy x to the host")
        return _on_device(x, fs, band_list, order, log_base)

    x = check_float_array(x, "x")
    if x.ndim not in (2, 3):
        raise ValueError(f"x has shape {x.shape}; expected (windows, channels, samples) or (channels, samples)")
    if 0 in x.shape:
        raise ValueError(f"x has shape {x.shape}; every axis must be non-empty")
    needed = min_samples(fs, band_list)
    if x.shape[-1] < needed:
        lowest = min(low for low, _ in band_list)
        raise ValueError(
            f"windows of {x.shape[-1]} samples are too short for the {lowest} Hz band edge at fs={fs}: "
            f"need at least {needed} samples (one period), or drop the lowest band"
        )
    batch = x if x.ndim == 3 else x[None]

    if impl == "reference":
        out = band_differential_entropy_reference(batch, fs, band_list, order, log_base).astype(x.dtype)
    elif impl == "cuda":
        module = _native.cuda_module()
        kernel = module.bde_f32 if x.dtype == np.float32 else module.bde_f64
        out = kernel(batch, fs, band_list, order, log_base or 0.0)
    else:
        module = _native.cpu_module()
        kernel = module.bde_f32 if x.dtype == np.float32 else module.bde_f64
        out = kernel(batch, fs, band_list, order, log_base or 0.0, n_threads)

    # Non-finite samples propagate to NaN (or +inf) in the output, so checking
    # the small output costs nothing on clean data; only then is x scanned to
    # name the culprit. -inf alone means an all-zero channel, which is valid.
    if np.isnan(out).any() or np.isposinf(out).any():
        raise_for_non_finite(x, "x")
        raise ValueError("x has values so large that their variance overflows; rescale x (e.g. to microvolts)")
    return out if x.ndim == 3 else out[0]


def _on_device(x, fs: float, band_list, order: int, log_base: float | None):
    """BDE of a C-contiguous GPU array, computed and returned on the GPU (CuPy)."""
    module = _native.cuda_module()
    iface = x.__cuda_array_interface__
    shape, typestr = tuple(iface["shape"]), iface["typestr"]
    dtypes = {"<f4": np.float32, "<f8": np.float64}
    if typestr not in dtypes:
        raise ValueError(f"x has GPU dtype {typestr}; expected float32 (<f4) or float64 (<f8)")
    if len(shape) not in (2, 3) or 0 in shape:
        raise ValueError(f"x has shape {shape}; expected non-empty (windows, channels, samples) or (channels, samples)")
    itemsize = np.dtype(dtypes[typestr]).itemsize
    contiguous = tuple(itemsize * int(np.prod(shape[i + 1 :])) for i in range(len(shape)))
    if iface.get("strides") not in (None, contiguous):
        raise ValueError("x is a non-contiguous GPU array; make it contiguous first (cupy.ascontiguousarray(x))")
    needed = min_samples(fs, band_list)
    if shape[-1] < needed:
        raise ValueError(f"windows of {shape[-1]} samples are too short: need at least {needed} samples (one period)")
    try:
        import cupy
    except ImportError as exc:
        raise ImportError("BDE on GPU arrays allocates its output with CuPy: pip install cupy-cuda12x (or 13x)") from exc
    w, c, n = (1,) + shape if len(shape) == 2 else shape
    out = cupy.empty((w, c, len(band_list)), dtype=dtypes[typestr])
    kernel = module.bde_device_f32 if typestr == "<f4" else module.bde_device_f64
    kernel(iface["data"][0], out.data.ptr, w, c, n, fs, band_list, order, log_base or 0.0)
    if bool(cupy.isnan(out).any()) or bool(cupy.isposinf(out).any()):
        bad = cupy.argwhere(~cupy.isfinite(cupy.asarray(x)))
        if bad.size:
            raise ValueError(f"x contains non-finite samples (the first at index {tuple(int(i) for i in bad[0])})")
        raise ValueError("x has values so large that their variance overflows; rescale x")
    return out if len(shape) == 3 else out[0]
