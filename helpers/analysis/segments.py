"""read_segments: every object of a run's trace, in reading order, each read on its own.

A trace is a prefix of segment objects, `<writer id>/<byte offset>.jsonl` (a recovery's:
`<writer id>/<offset>.recovered-<tag>.jsonl`), or, for runs traced before segments, one object. A segment
that cannot be read (denied, gone, a listing that fails) is a Segment with an error; the others still read.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

ARTIFACT = "langchain-trace"
_RECOVERED = re.compile(r"\.recovered-[0-9a-f]+\.jsonl$")
_WRITER_TIME = re.compile(r"^(\d{8}T\d{6})(\d{6})Z")


@dataclass
class Segment:
    """One object of a trace: its text, or why it could not be read."""

    uri: str  # s3://bucket/key of the object (of the prefix, when listing it failed)
    name: str  # the key under the trace prefix: "<writer id>/<offset>.jsonl"; a single object's own key
    writer: str | None  # the writer id (None: a single-object trace, or a failed listing)
    recovered: bool  # written by upload_pending_spools for a writer that was gone
    last_modified: datetime.datetime | None = None
    text: str | None = None
    error: str | None = None  # e.g. "AccessDenied", "NoSuchKey"
    exception: BaseException | None = None

    @property
    def readable(self) -> bool:
        return self.error is None


def trace_uris(tc: dict) -> list[str]:
    """The S3 locations of a run's trace: an earlier single object first, then the segment prefix (or object)."""
    artifacts = tc.get("OutputArtifacts") or {}
    values = [str((artifacts.get(name) or {}).get("Value", "")) for name in (f"{ARTIFACT}-earlier", ARTIFACT)]
    return [value for value in values if value.startswith("s3://")]


def error_code(error: BaseException) -> str:
    """The service's error code (AccessDenied, NoSuchKey, ...) or the exception's type."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(error).__name__)


def writer_started(writer: str | None) -> datetime.datetime | None:
    """A writer id's creation time (ids start with it: 20261202T043618123456Z-...), or None."""
    match = _WRITER_TIME.match(writer or "")
    if not match:
        return None
    when = datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")
    return when.replace(microsecond=int(match.group(2)), tzinfo=datetime.UTC)


def list_segments(s3, uri: str) -> list[Segment]:
    """The objects of one trace location, in key order (so in writing order), not yet read."""
    bucket, _, key = uri[5:].partition("/")
    if not key.endswith("/"):
        return [Segment(uri, key, None, False)]
    try:
        items = [item for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
                 for item in page.get("Contents") or []]
    except Exception as error:  # the listing is denied: nothing under the prefix can be named
        return [Segment(uri, key, None, False, error=f"listing failed: {error_code(error)}", exception=error)]
    segments = []
    for item in sorted(items, key=lambda item: item["Key"]):
        name = item["Key"][len(key):]
        writer = name.split("/", 1)[0] if "/" in name else None
        segments.append(Segment(f"s3://{bucket}/{item['Key']}", name, writer, bool(_RECOVERED.search(name)),
                                item.get("LastModified")))
    return segments


def read_segment(s3, segment: Segment) -> Segment:
    """Fill in the segment's text (lines end in "\\n"), or its error."""
    if segment.error is not None:
        return segment
    bucket, _, key = segment.uri[5:].partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:  # this segment only; the caller reads the others
        segment.error, segment.exception = error_code(error), error
        return segment
    text = body.decode("utf-8", "replace")
    segment.text = text if text.endswith("\n") or not text else text + "\n"
    return segment


def read_segments(s3, tc: dict) -> list[Segment]:
    """Every object of a run's trace, in reading order, each with its text or its error."""
    return [read_segment(s3, segment) for uri in trace_uris(tc) for segment in list_segments(s3, uri)]
