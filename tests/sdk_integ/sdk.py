"""`sdk_import`: the SDK v2 names the ported tests import, resolved on whichever SDK major is installed.

On v3 each sagemaker.X module is its sagemaker.core twin; names outside Experiments become placeholders.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import version

SDK_MAJOR = int(version("sagemaker").split(".")[0])
# v2 module -> v3 module (the longest matching prefix wins)
V3_HOMES = {
    "sagemaker.experiments": "sagemaker.core.experiments",
    "sagemaker.analytics": "sagemaker.core.analytics",
    "sagemaker.lineage": "sagemaker.core.lineage",
    "sagemaker.utilities": "sagemaker.core.utilities",
    "sagemaker.utils": "sagemaker.core.common_utils",
    "sagemaker.s3": "sagemaker.core.s3",
    "sagemaker.session": "sagemaker.core.helper.session_helper",
}
V3_ATTRIBUTES = {("sagemaker", "utils"): "sagemaker.core.common_utils"}


class OutOfScope:
    """Stands for an SDK name about jobs (estimators, processors): only skipped tests touch it."""

    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} is out of scope for the local stand-in (training/processing jobs).")

    def __getattr__(self, item):
        return OutOfScope(f"{self._name}.{item}")


def _v3_module(module: str) -> str | None:
    for prefix in sorted(V3_HOMES, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return V3_HOMES[prefix] + module[len(prefix):]
    return None


def _resolve(module: str, name: str):
    if SDK_MAJOR >= 3 and (module, name) in V3_ATTRIBUTES:
        return importlib.import_module(V3_ATTRIBUTES[module, name])
    home = module if SDK_MAJOR < 3 else _v3_module(module)
    if home is None:
        return OutOfScope(f"{module}.{name}")
    try:
        loaded = importlib.import_module(home)
    except ImportError:
        return OutOfScope(f"{module}.{name}")
    if hasattr(loaded, name):
        return getattr(loaded, name)
    try:
        return importlib.import_module(f"{home}.{name}")
    except ImportError:
        pass
    # v2 re-exports at package level what v3 keeps in a submodule (load_run in experiments.run)
    for info in pkgutil.iter_modules(getattr(loaded, "__path__", [])):
        submodule = importlib.import_module(f"{home}.{info.name}")
        if hasattr(submodule, name):
            return getattr(submodule, name)
    raise ImportError(f"{name} is neither in {home} nor in its submodules (ported from {module})")


def sdk_import(module: str, *names: str) -> tuple:
    """The objects `from module import names` gives on SDK v2, from the installed SDK."""
    return tuple(_resolve(module, name) for name in names)
