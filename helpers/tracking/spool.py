"""An append-only JSON Lines spool per writer (one execution of a run) that holds spans until they are uploaded.

A meta.json beside it names the run and the store it belongs to; a lock file held by the live process tells
recovery (upload_pending_spools) which spools were left by processes that are gone. If the disk refuses the
spans (read-only folder, full disk), the rest of them are kept in memory and the warning says so.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

from .redact import redact_logs

log = redact_logs(logging.getLogger(__name__))

TRACE_FILE = "langchain-trace.jsonl"
META_FILE = "meta.json"
LOCK_FILE = "writer.lock"


def default_spool_dir() -> Path:
    return Path(os.environ.get("SAGEMAKER_TRACE_SPOOL_DIR") or ".trace-spool").resolve()


def new_writer_id() -> str:
    """Sorts by creation time (UTC, microseconds), unique by its random tail."""
    now = datetime.datetime.now(datetime.UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


class Spool:
    """append() only queues the encoded line; flush() writes what is queued (once per top-level call).

    Offsets count the spool's bytes in order, on disk first, then in memory when the disk failed.
    """

    def __init__(self, spool_dir: Path, meta: dict):
        self.writer_id = meta.get("writer_id") or new_writer_id()
        base = meta.get("trial_component_name") or "run"
        self.directory = Path(spool_dir) / f"{base}-{self.writer_id}"
        self.path = self.directory / TRACE_FILE
        self.meta_path = self.directory / META_FILE
        self.meta = {**meta, "writer_id": self.writer_id, "pid": os.getpid(), "created": time.time(),
                     "uploaded_bytes": 0}
        self._lock = threading.Lock()
        self._queued: list[bytes] = []
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self.disk_bytes = 0  # bytes written to the file
        self._memory = bytearray()  # bytes the disk refused, from offset disk_bytes + _memory_dropped on
        self._memory_dropped = 0  # memory bytes already uploaded and freed
        self.in_memory = False
        self.disk_error: str | None = None
        self.lines = 0
        self._file_base = 0  # offset of the file's first byte (a spool removed, then written again)
        self.removed = False
        self._open()

    def _open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.path.touch()
            self._write_meta()
        except OSError as error:
            self._to_memory(error)

    def where(self) -> str:
        """Where the spans not yet in the run are kept, for warnings."""
        if self.in_memory:
            return f"this process's memory (the spool folder {self.directory} failed: {self.disk_error})"
        return str(self.path)

    @property
    def size(self) -> int:
        return self.disk_bytes + self._memory_dropped + len(self._memory)

    def append(self, line: bytes) -> None:
        """Queue one encoded span line (ending in a newline)."""
        self._queued.append(line)  # list.append is atomic; flush() takes the queue under the lock
        self.lines += 1

    def flush(self) -> int:
        """Write queued spans to disk (or memory, once the disk failed); returns the spool's size."""
        with self._lock:
            queued, self._queued = self._queued, []
            if queued and self.removed:  # spans after the run closed and its spool was confirmed and removed
                self.removed, self._file_base = False, self.disk_bytes
                self._open()
            if queued:
                data = b"".join(queued)
                if self.in_memory:
                    self._memory += data
                else:
                    self._write(data)
            return self.size

    def _write(self, data: bytes) -> None:
        view, done = memoryview(data), 0
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            while done < len(view):
                done += os.write(self._fd, view[done:])
            self.disk_bytes += done
        except OSError as error:
            self.disk_bytes += done
            self._to_memory(error)
            self._memory += view[done:]

    def _to_memory(self, error: OSError) -> None:
        if not self.in_memory:
            self.in_memory = True
            self.disk_error = f"{type(error).__name__}: {os.strerror(error.errno) if error.errno else error}"
            kept = f"the first {self.disk_bytes} bytes of spans are in {self.path}, the" if self.disk_bytes else "the"
            log.warning("SageMaker tracking: the spool %s cannot be written (%s); %s rest are kept in memory "
                        "and uploaded to the run, but a crash before their upload loses them.",
                        self.directory, self.disk_error, kept)

    def read(self, start: int, limit: int) -> bytes:
        """Up to `limit` bytes of whole lines from offset `start` (streamed from the file, not read whole)."""
        with self._lock:
            data = b""
            if start < self.disk_bytes:
                with open(self.path, "rb") as file:
                    file.seek(start - self._file_base)
                    data = file.read(min(limit, self.disk_bytes - start))
            if len(data) < limit and start + len(data) >= self.disk_bytes:  # the rest (the disk refused it)
                begin = start + len(data) - self.disk_bytes - self._memory_dropped
                data += bytes(self._memory[begin : begin + limit - len(data)])
        if len(data) == limit and not data.endswith(b"\n"):
            cut = data.rfind(b"\n")
            data = data[: cut + 1] if cut >= 0 else data  # one line bigger than the limit goes whole
        return data

    def close_file(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def mark_uploaded(self, size: int, write: bool = True, **progress) -> None:
        """Record what the run holds now (bytes, and e.g. how many latencies it was sent); in meta.json too
        unless `write` is False (the caller writes it soon: a crash before then only re-sends a segment)."""
        self.meta.update(progress, uploaded_bytes=size)
        with self._lock:  # memory the run holds can go
            drop = min(len(self._memory), size - self.disk_bytes - self._memory_dropped)
            if drop > 0:
                del self._memory[:drop]
                self._memory_dropped += drop
        if write:
            self._write_meta()

    def fully_uploaded(self) -> bool:
        return self.flush() == self.meta["uploaded_bytes"] and not self.meta.get("metrics_pending")

    def remove(self) -> None:
        """Delete the spool (the caller confirmed the run holds all of it) and release its lock."""
        self.close_file()
        with self._lock:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.removed = True
            if self._lock_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._lock_fd)
                self._lock_fd = None

    def _write_meta(self) -> None:
        if self.removed or (self.in_memory and not self.meta_path.parent.exists()):
            return
        try:
            tmp = self.meta_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.meta))
            os.replace(tmp, self.meta_path)
        except OSError as error:  # a full disk: the upload itself went through, the meta catches up later
            if error.errno not in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.ENOENT, errno.EDQUOT):
                raise


class LeftSpool:
    """A spool left by a process that is gone, locked by this process while it is recovered."""

    def __init__(self, directory: Path, meta: dict, lock_fd: int | None):
        self.directory = directory
        self.meta = meta
        self.path = directory / TRACE_FILE
        self.lock_fd = lock_fd

    def read(self, start: int, limit: int) -> bytes:
        with open(self.path, "rb") as file:
            file.seek(start)
            data = file.read(limit)
        if len(data) == limit and not data.endswith(b"\n"):
            cut = data.rfind(b"\n")
            data = data[: cut + 1] if cut >= 0 else data
        return data

    def save_meta(self) -> None:
        tmp = self.directory / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(self.meta))
        os.replace(tmp, self.directory / META_FILE)

    def release(self, remove: bool) -> None:
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = None


def left_spools(spool_dir: Path) -> list[LeftSpool]:
    """Spools whose writer is gone (its lock is free; for spools without a lock file, its PID is gone)."""
    found = []
    for meta_path in sorted(Path(spool_dir).glob(f"*/{META_FILE}")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        directory, lock_fd = meta_path.parent, None
        if (directory / LOCK_FILE).exists():
            try:
                lock_fd = os.open(directory / LOCK_FILE, os.O_RDWR)
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held: its writer is alive
                if lock_fd is not None:
                    os.close(lock_fd)
                continue
        elif _alive(meta.get("pid")):  # a spool of an older version, with no lock file
            continue
        found.append(LeftSpool(directory, meta, lock_fd))
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
