"""line_reader: the fastest JSON parser for the lines of one trace that reads them exactly as json.loads does.

orjson parses about three times faster; it refuses what json accepts beyond RFC 8259 (NaN, lone surrogates),
so those lines go through json. It reads integers past 64 bits as floats, so a trace with a run of 19 or more
digits anywhere is read with json alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import orjson

_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19  # 2**63 has 19 digits


def _fast_loads(line: str):
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def line_reader(text: str) -> Callable[[str], object]:
    """json.loads, or a faster equivalent for the lines of `text`; both raise ValueError on bad JSON."""
    if _LONG_NUMBER in text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZERO):
        return json.loads
    return _fast_loads
