"""Import-time savings for every kernel: rfc3987_syntax builds three Earley parsers when imported (1.7 s of a
notebook's start), only because jsonschema imports it for the "iri" format, which nothing here checks.

defer_rfc3987_syntax() leaves a stand-in that imports the real package on first use, so behaviour is unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

_NAME = "rfc3987_syntax"


def _real() -> types.ModuleType:
    stand_in = sys.modules.get(_NAME)
    if stand_in is not None and not getattr(stand_in, "_deferred", False):
        return stand_in
    sys.modules.pop(_NAME, None)
    try:
        return importlib.import_module(_NAME)
    except BaseException:
        sys.modules[_NAME] = stand_in
        raise


def defer_rfc3987_syntax() -> None:
    """Put the stand-in in place, unless the package is already imported or not installed."""
    if _NAME in sys.modules or importlib.util.find_spec(_NAME) is None:
        return
    stand_in = types.ModuleType(_NAME, "imports the real rfc3987_syntax on first use (helpers.deferred_imports)")
    stand_in._deferred = True

    def is_valid_syntax(term: str, value: str):
        return _real().is_valid_syntax(term, value)

    stand_in.is_valid_syntax = is_valid_syntax
    def attribute(name: str):
        if name.startswith("__"):  # the import system asks for __path__ and the like: no reason to load
            raise AttributeError(name)
        return getattr(_real(), name)

    stand_in.__getattr__ = attribute
    sys.modules[_NAME] = stand_in
