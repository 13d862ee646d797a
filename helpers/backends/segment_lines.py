"""SegmentLines: the finished span records in a writer's segments, a line cut at one segment's end joined
with the start of the next (segments are cut by size, not at line ends)."""

from __future__ import annotations

import json

import orjson


class SegmentLines:
    """Feed segments in upload order with spans(name, body); each span record comes out once."""

    def __init__(self):
        self._tails: dict[tuple[str, int], bytes] = {}  # (writer, offset where the next segment starts) -> cut line

    def spans(self, name: str, body: bytes) -> list[dict]:
        """The span records completed by the segment `<writer>/<offset>.<...>.jsonl` holding body."""
        writer, _, rest = name.rpartition("/")
        offset = int(rest.split(".", 1)[0])
        data = self._tails.pop((writer, offset), b"") + body
        lines = data.split(b"\n")
        self._tails[(writer, offset + len(body))] = lines[-1]
        return [record for record in map(_span, lines[:-1]) if record is not None]


def _span(raw: bytes) -> dict | None:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            record = json.loads(raw)  # e.g. an escaped lone surrogate, which orjson refuses
        except ValueError:
            return None  # a line cut by a crash: the segment itself still holds it
    if isinstance(record, dict) and record.get("type") == "span" and record.get("span_id"):
        return record
    return None
