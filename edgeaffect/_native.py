"""Access to the compiled modules, with errors that say how to get them.

Nothing here runs at import time of edgeaffect: the CUDA module in particular
is loaded only when a CUDA kernel is asked for (DESIGN.md: no CUDA probing at
import).
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from types import ModuleType


class NativeUnavailableError(RuntimeError):
    """A native kernel was requested but the module or device is missing."""


@functools.lru_cache(maxsize=None)
def cpu_module() -> ModuleType:
    """The CPU core `edgeaffect._C`; raises NativeUnavailableError if it was not built."""
    try:
        return importlib.import_module("edgeaffect._C")
    except ImportError as exc:
        checkout = _unbuilt_source_checkout()
        fix = (f"Python imported edgeaffect from the source checkout {checkout} (the current directory comes first "
               "on sys.path), which holds no compiled module: run from another directory, or build it in place "
               "with `pip install -e .`" if checkout else
               "Reinstall from source with a C++17 compiler (`pip install .`)")
        raise NativeUnavailableError(
            f"edgeaffect's native CPU module could not be imported ({exc}). {fix}, or pass impl='reference' to use "
            "the numpy/scipy implementation."
        ) from exc


def _unbuilt_source_checkout(package_paths: list[str] | None = None) -> Path | None:
    """The repository folder when edgeaffect is imported from a checkout and no folder of the package
    (`edgeaffect.__path__`: an editable install adds the one holding the build) has the compiled module."""
    if package_paths is None:
        import edgeaffect

        package_paths = list(edgeaffect.__path__)
    root = Path(__file__).resolve().parent.parent
    if any(any(Path(folder).glob("_C.*")) for folder in package_paths):
        return None
    if (root / "pyproject.toml").exists() and (root / "csrc").is_dir():
        return root
    return None


@functools.lru_cache(maxsize=None)
def _cuda_module_or_reason() -> tuple[ModuleType | None, str]:
    try:
        return importlib.import_module("edgeaffect._C_cuda"), ""
    except ImportError as exc:
        if "_C_cuda" in str(exc) or "No module named" in str(exc):
            return None, (
                "edgeaffect was built without its CUDA module (nvcc was not found at build time, or EDGEAFFECT_CUDA=OFF); rebuild with the "
                "CUDA toolkit installed, e.g. `EDGEAFFECT_CUDA=ON pip install .`"
            )
        return None, f"the CUDA module failed to load: {exc}"


def cuda_module_reason() -> str:
    """Why the CUDA module is unusable, or '' when a device is ready."""
    module, reason = _cuda_module_or_reason()
    if module is None:
        return reason
    info = module.device_info()
    if info["device_count"] == 0:
        return f"the CUDA module is built but no CUDA device is usable ({info.get('error', 'no device found')})"
    return ""


def cuda_module() -> ModuleType:
    """The CUDA module `edgeaffect._C_cuda` with a usable device, or NativeUnavailableError saying why not."""
    reason = cuda_module_reason()
    if reason:
        raise NativeUnavailableError(reason)
    module, _ = _cuda_module_or_reason()
    assert module is not None
    return module


def cuda_build_info() -> dict:
    """Facts about the CUDA build and devices, for `edgeaffect info`; never raises."""
    module, reason = _cuda_module_or_reason()
    if module is None:
        return {"compiled": False, "reason": reason}
    info = dict(module.device_info())
    info["compiled"] = True
    if info["device_count"] == 0:
        info["reason"] = f"no CUDA device is usable ({info.get('error', 'no device found')})"
    return info
