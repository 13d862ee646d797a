"""A folder of S3 objects that no key can escape: each key maps to a hashed file name; no symlink is followed.

Writes stream to a temp file renamed into place, so readers in other processes never see a torn object.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


class UnsafeStorePath(Exception):
    """A symlink (or other non-directory) planted inside the store where a folder or object belongs."""


class ObjectFolder:
    """Objects of all buckets under one root, with a JSON sidecar holding key and metadata."""

    def __init__(self, root: Path):
        if Path(root).is_symlink():
            raise UnsafeStorePath(f"{root} is a symbolic link; the local store follows none. Remove it.")
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._bucket_dirs: dict[str, Path] = {}  # resolve() costs a few syscalls; every request needs it

    def _bucket_dir(self, bucket: str) -> Path:
        # Bucket names are validated before they get here; resolve() guards anyway.
        path = self._bucket_dirs.get(bucket)
        if path is None:
            path = self.root / bucket
            if path.parent != self.root or bucket in ("", ".", ".."):
                raise ValueError(f"bucket name {bucket!r} leaves the object folder")
            self.check(path)
            self._bucket_dirs[bucket] = path
        return path

    def check(self, path: Path) -> Path:
        """Refuse a path inside the store if it or a folder on the way is a symlink."""
        node = path
        while node != self.root:
            if node.is_symlink():
                raise UnsafeStorePath(f"{node} is a symbolic link; the local store follows none. Remove it.")
            node = node.parent
        return path

    def _object_path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self.check(self._bucket_dir(bucket) / "objects" / digest[:2] / digest)

    def create_bucket(self, bucket: str) -> bool:
        path = self._bucket_dir(bucket)
        existed = path.exists()
        (path / "objects").mkdir(parents=True, exist_ok=True)
        return not existed

    def bucket_exists(self, bucket: str) -> bool:
        return self._bucket_dir(bucket).is_dir()

    def buckets(self) -> list[tuple[str, float]]:
        return sorted((p.name, p.stat().st_mtime) for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def put(self, bucket: str, key: str, chunks: Iterable[bytes], meta: dict) -> dict:
        """Stream chunks into the object; meta gains ContentLength and, unless given, the MD5 ETag."""
        path = self._object_path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.md5(), 0
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            meta = {"ETag": f'"{digest.hexdigest()}"', **meta, "ContentLength": size, "Key": key}
            os.replace(tmp, path.with_suffix(".data"))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _atomic_write(path.with_suffix(".json"), json.dumps(meta).encode())
        return meta

    def open(self, bucket: str, key: str):
        """(a binary file opened without following symlinks, meta), or None."""
        path = self._object_path(bucket, key)
        try:
            meta = json.loads(path.with_suffix(".json").read_bytes())
            fd = os.open(path.with_suffix(".data"), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as error:  # ELOOP: the object file is a symlink
            raise UnsafeStorePath(f"{path.with_suffix('.data')} is a symbolic link; the local store follows none.") from error
        return os.fdopen(fd, "rb"), meta

    def get(self, bucket: str, key: str) -> tuple[bytes, dict] | None:
        found = self.open(bucket, key)
        if found is None:
            return None
        handle, meta = found
        with handle:
            return handle.read(), meta

    def head(self, bucket: str, key: str) -> dict | None:
        try:
            return json.loads(self._object_path(bucket, key).with_suffix(".json").read_bytes())
        except FileNotFoundError:
            return None

    def delete(self, bucket: str, key: str) -> None:
        path = self._object_path(bucket, key)
        for suffix in (".json", ".data"):
            path.with_suffix(suffix).unlink(missing_ok=True)

    def list(self, bucket: str) -> list[dict]:
        """Every object's metadata (with its Key), sorted by key."""
        metas = []
        for sidecar in self.check(self._bucket_dir(bucket) / "objects").glob("*/*.json"):
            if sidecar.parent.is_symlink() or sidecar.is_symlink():
                continue
            try:
                metas.append(json.loads(sidecar.read_bytes()))
            except (FileNotFoundError, json.JSONDecodeError):
                continue
        return sorted(metas, key=lambda m: m["Key"])

    def scratch_dir(self) -> Path:
        path = self.check(self.root / ".multipart")
        path.mkdir(exist_ok=True)
        return path


def file_chunks(paths: Iterable[Path], size: int = 1024 * 1024):
    """The bytes of these files, one after the other, a chunk at a time."""
    for path in paths:
        with open(path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
