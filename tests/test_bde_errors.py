"""Every bad input to BDE gets a ValueError that names the argument, the
value and what was expected; nothing crashes or returns NaN."""

from __future__ import annotations

import numpy as np
import pytest

from edgeaffect.features import StreamingBDE, band_differential_entropy

GOOD = np.random.default_rng(0).standard_normal((2, 3, 200))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"x": np.zeros((200,))}, r"shape \(200,\).*expected \(windows, channels, samples\)"),
        ({"x": np.zeros((1, 2, 3, 200))}, r"shape \(1, 2, 3, 200\)"),
        ({"x": np.zeros((0, 3, 200))}, r"non-empty"),
        ({"x": np.ones((2, 3, 200), dtype=np.int16)}, r"dtype int16.*astype"),
        ({"x": np.ones((2, 3, 200), dtype=np.float16)}, r"dtype float16"),
        ({"fs": 0}, r"fs=0 must be a positive"),
        ({"fs": float("nan")}, r"fs=nan"),
        ({"fs": 90}, r"fs > 2\*high = 98.0 Hz.*fs=90"),
        ({"bands": [(8, 4)]}, r"band \(8.0, 4.0\): low must be < high"),
        ({"bands": [(0, 4)]}, r"low > 0"),
        ({"bands": []}, r"bands is empty"),
        ({"bands": "alpha-only"}, r"not a preset"),
        ({"bands": [(1, 2, 3)]}, r"\(low, high\) pairs"),
        ({"order": 0}, r"order=0"),
        ({"order": 2.5}, r"order=2.5"),
        ({"log_base": 1}, r"log_base=1"),
        ({"log_base": -2}, r"log_base=-2"),
        ({"threads": 0}, r"threads=0"),
        ({"impl": "gpu"}, r"impl='gpu'"),
        ({"x": np.zeros((2, 3, 150))}, r"150 samples are too short for the 1.0 Hz band edge.*at least 200"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"x": GOOD, "fs": 200, **kwargs}
    with pytest.raises(ValueError, match=match):
        band_differential_entropy(**args)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_samples_are_located(bad, dtype):
    x = GOOD.astype(dtype).copy()
    x[1, 2, 57] = bad
    with pytest.raises(ValueError, match=r"non-finite samples .* at index \(1, 2, 57\)"):
        band_differential_entropy(x, 200)


def test_overflowing_values_are_reported():
    x = GOOD * 1e300
    with pytest.raises(ValueError, match="overflow"):
        band_differential_entropy(x, 200)


def test_cuda_without_a_device_says_why():
    from edgeaffect import _native

    reason = _native.cuda_module_reason()
    if not reason:
        pytest.skip("a CUDA device is present; the error path is not reachable here")
    with pytest.raises(_native.NativeUnavailableError, match="CUDA"):
        band_differential_entropy(GOOD, 200, impl="cuda")


def test_a_checkout_without_its_compiled_module_is_named_as_the_cause(tmp_path, monkeypatch):
    """Running Python in the repository folder imports the source tree, which has no _C: the error says so."""
    import importlib.util
    import shutil
    import types

    from edgeaffect import _native

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'edgeaffect'\n")
    (tmp_path / "csrc").mkdir()
    (tmp_path / "edgeaffect").mkdir()
    shutil.copy(_native.__file__, tmp_path / "edgeaffect" / "_native.py")
    spec = importlib.util.spec_from_file_location("checkout_native", tmp_path / "edgeaffect" / "_native.py")
    checkout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checkout)
    package = [str(tmp_path / "edgeaffect")]  # edgeaffect.__path__ when Python runs in the checkout
    assert checkout._unbuilt_source_checkout(package) == tmp_path.resolve()
    (tmp_path / "build").mkdir()  # an editable install adds the folder holding the build to __path__
    (tmp_path / "build" / "_C.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert checkout._unbuilt_source_checkout(package + [str(tmp_path / "build")]) is None

    def no_module(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(checkout, "importlib", types.SimpleNamespace(import_module=no_module))  # this copy only
    find = checkout._unbuilt_source_checkout
    monkeypatch.setattr(checkout, "_unbuilt_source_checkout", lambda: find(package))
    with pytest.raises(checkout.NativeUnavailableError, match="source checkout .*run from another directory"):
        checkout.cpu_module()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"channels": 0}, r"channels=0"),
        ({"window": 100}, r"window=100 samples is too short"),
        ({"hop": 0}, r"hop=0"),
        ({"dtype": np.int32}, r"dtype="),
        ({"fs": -1}, r"fs=-1"),
    ],
)
def test_streaming_bad_arguments(kwargs, match):
    args = {"fs": 200, "channels": 3, "window": 200, "hop": 100, **kwargs}
    with pytest.raises(ValueError, match=match):
        StreamingBDE(**args)


def test_streaming_bad_chunks():
    stream = StreamingBDE(fs=200, channels=3, window=200, hop=100)
    with pytest.raises(ValueError, match=r"chunk has shape \(4, 10\); expected \(3, samples\)"):
        stream.push(np.zeros((4, 10)))
    with pytest.raises(ValueError, match=r"chunk has dtype int64"):
        stream.push(np.zeros((3, 10), dtype=np.int64))
    nan_chunk = np.zeros((3, 10))
    nan_chunk[2, 4] = np.nan
    with pytest.raises(ValueError, match=r"at index \(2, 4\)"):
        stream.push(nan_chunk)
    assert stream.samples_seen == 0
