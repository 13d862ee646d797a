"""An append-only JSON Lines file on disk that holds a run's spans until the upload is confirmed.

A meta.json beside it names the run, so a spool left by a killed process can be uploaded later.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

TRACE_FILE = "langchain-trace.jsonl"
# json.dumps leaves these unescaped, yet str.splitlines() breaks lines on them: escape them in strings.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
META_FILE = "meta.json"


def default_spool_dir() -> Path:
    return Path(os.environ.get("SAGEMAKER_TRACE_SPOOL_DIR") or ".trace-spool").resolve()


class Spool:
    """Buffered appends (no fsync per span); flush() before every upload. The file is opened on demand
    and closed with close_file(), so a process with many finished runs holds no descriptor for them."""

    def __init__(self, spool_dir: Path, meta: dict, initial: bytes = b""):
        base = meta.get("trial_component_name") or "run"
        self.directory = Path(spool_dir) / f"{base}-{uuid.uuid4().hex[:8]}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / TRACE_FILE
        self.meta_path = self.directory / META_FILE
        self.meta = {**meta, "pid": os.getpid(), "created": time.time(), "uploaded_bytes": 0}
        self.path.write_bytes(initial)  # a trace the run already held, when a run is resumed
        self._write_meta()
        self._file = None
        self._lock = threading.Lock()
        self.lines = 0

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, allow_nan=False)
        if "\x85" in line or "\u2028" in line or "\u2029" in line:  # rare: translate() costs ~50 ns a character
            line = line.translate(_LINE_BREAKS)
        line += "\n"
        with self._lock:
            if self._file is None:
                # A lone surrogate (e.g. "\ud800" from a broken decode) is written as its JSON escape, not dropped.
                self._file = open(self.path, "a", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
            self._file.write(line)
            self.lines += 1

    def flush(self) -> int:
        """Write buffered spans to disk; returns the file size."""
        with self._lock:
            if self._file is not None:
                self._file.flush()
            return self.path.stat().st_size

    def close_file(self) -> None:
        """Flush and close the file; the next append opens it again."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def mark_uploaded(self, size: int, **progress) -> None:
        """Record what the run holds now (bytes, and e.g. how many latencies it was sent)."""
        self.meta.update(progress, uploaded_bytes=size)
        self._write_meta()

    def remove_if_uploaded(self) -> bool:
        """Delete the spool once every byte of it, and every metric, is confirmed in the run."""
        self.close_file()
        with self._lock:
            if self.path.stat().st_size != self.meta["uploaded_bytes"] or self.meta.get("metrics_pending"):
                return False
            shutil.rmtree(self.directory, ignore_errors=True)
            return True

    def _write_meta(self) -> None:
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.meta))
        os.replace(tmp, self.meta_path)


def pending_spools(spool_dir: Path) -> list[tuple[Path, dict]]:
    """Spools whose last bytes never reached the run, written by processes no longer alive."""
    found = []
    for meta_path in sorted(Path(spool_dir).glob(f"*/{META_FILE}")):
        try:
            meta = json.loads(meta_path.read_text())
            trace = meta_path.parent / TRACE_FILE
            size = trace.stat().st_size
        except (OSError, json.JSONDecodeError):
            continue
        if (size > meta.get("uploaded_bytes", 0) or meta.get("metrics_pending")) and not _alive(meta.get("pid")):
            found.append((trace, meta))
    return found


def _alive(pid) -> bool:
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
