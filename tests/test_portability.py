"""The native kernels on another architecture: cross-compiled for aarch64
(Jetson) and run under QEMU, they must give this machine's numbers (BDE)
or match the float64 reference as closely as here (the Swin-SE engine).
Skips where the cross compiler or QEMU is absent (apt-get install
g++-aarch64-linux-gnu qemu-user-static)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import max_rel_error
from edgeaffect.features import band_differential_entropy

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["csrc/bde/bde_cpu_baseline.cpp", "csrc/bde/bde_cpu.cpp", "csrc/bde/bde_design.cpp",
           "csrc/common/cpu_dispatch.cpp", "tests/native/bde_probe.cpp"]
SWIN_SOURCES = ["csrc/swinengine/swinengine.cpp", "csrc/swinengine/swinengine_cpu_baseline.cpp",
                "csrc/rbengine/rbengine.cpp", "csrc/rbengine/rbengine_cpu_baseline.cpp",
                "csrc/attention/attention_cpu.cpp", "csrc/attention/attention_cpu_baseline.cpp",
                "csrc/common/cpu_dispatch.cpp", "tests/native/swinengine_probe.cpp"]
CROSS_FLAGS = ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp", "-static"]


def cross_tools() -> tuple[str, str]:
    compiler, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if not compiler or not qemu:
        pytest.skip("needs aarch64-linux-gnu-g++ and qemu-aarch64(-static) (Debian: g++-aarch64-linux-gnu qemu-user-static)")
    return compiler, qemu


def cross_build(compiler: str, sources: list[str], binary: Path) -> None:
    build = subprocess.run([compiler, *CROSS_FLAGS, *[str(ROOT / s) for s in sources], "-o", str(binary)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]


@pytest.mark.slow
def test_aarch64_build_matches_this_machine(tmp_path, rng):
    compiler, qemu = cross_tools()
    binary = tmp_path / "bde_probe"
    cross_build(compiler, SOURCES, binary)
    x = rng.standard_normal((3, 7, 333)) * 20
    stdin = "3 7 333 200\n" + "\n".join(f"{v:.17g}" for v in x.ravel())
    run = subprocess.run([qemu, str(binary)], input=stdin, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "simd neon" in run.stderr
    arm = np.array([float(v) for v in run.stdout.split()]).reshape(3, 7, 5)
    assert max_rel_error(arm, band_differential_entropy(x, 200)) <= 1e-12


@pytest.fixture(scope="module")
def swin_probe(tmp_path_factory) -> tuple[str, Path]:
    """(qemu, the Swin-SE engine probe built for aarch64), built once for the module's tests."""
    compiler, qemu = cross_tools()
    binary = tmp_path_factory.mktemp("aarch64") / "swinengine_probe"
    cross_build(compiler, SWIN_SOURCES, binary)
    return qemu, binary


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["", "odd"], ids=["shipped-shape", "odd-shape"])
def test_aarch64_swin_engine_matches_float64_torch(swin_probe, tmp_path, rng, shape):
    qemu, binary = swin_probe
    torch = pytest.importorskip("torch", reason="the float64 reference needs torch (pip install edgeaffect[train])")
    from test_swinengine import ODD, random_student, weights_of

    from edgeaffect.fer.native import engine_config

    model, cfg = random_student(rng, ODD if shape == "odd" else "")
    # the probe's inputs: the engine's configuration and the float weights
    c = engine_config(cfg.as_dict())
    weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights_of(model).items()
               if np.issubdtype(v.dtype, np.floating)}
    lines = [f"{c['image']} {c['stem']} {c['dim']} {c['classes']} {len(c['depths'])}"]
    lines += [" ".join(str(c[k][i]) for k in ("depths", "heads", "windows", "mlp_hidden", "se_hidden"))
              for i in range(len(c["depths"]))]
    lines += [f"weights {len(weights)}"] + [f"{name} {w.size}" for name, w in weights.items()]
    (tmp_path / "index.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "weights.bin").write_bytes(b"".join(w.tobytes() for w in weights.values()))
    batch = 3
    x = rng.standard_normal((batch, 1, cfg.image, cfg.image)).astype(np.float32)
    (tmp_path / "faces.bin").write_bytes(x.tobytes())

    def run_on_arm(faces: int, threads: int) -> np.ndarray:
        args = [qemu, str(binary), *(str(tmp_path / f) for f in ("index.txt", "weights.bin", "faces.bin")),
                str(faces), str(threads)]
        run = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "simd baseline" in run.stderr  # aarch64 builds one level: NEON through the generic vectors
        return np.array([float(v) for v in run.stdout.split()], dtype=np.float32).reshape(faces, cfg.classes)

    arm = run_on_arm(batch, 1)
    with torch.inference_mode():
        reference32 = model(torch.from_numpy(x)).numpy()
        reference64 = model.double()(torch.from_numpy(x).double()).numpy()
    # the bound of test_swinengine's float64 parity test, on the other architecture
    torch_err = np.abs(reference32 - reference64).max()
    assert np.abs(arm - reference64).max() <= min(4 * torch_err + 1e-6, 2e-5)
    # one face split over threads in one parallel region: the same bits there too
    np.testing.assert_array_equal(run_on_arm(1, 2), arm[:1])
