"""A folder of S3 objects that no key can escape: each key maps to a hashed file name.

Writes are atomic (temp file + rename), so readers in other processes never see a torn object.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


class ObjectFolder:
    """Objects of all buckets under one root, with a JSON sidecar holding key and metadata."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._bucket_dirs: dict[str, Path] = {}  # resolve() costs a few syscalls; every request needs it

    def _bucket_dir(self, bucket: str) -> Path:
        # Bucket names are validated before they get here; resolve() guards anyway.
        path = self._bucket_dirs.get(bucket)
        if path is None:
            path = (self.root / bucket).resolve()
            if path.parent != self.root:
                raise ValueError(f"bucket name {bucket!r} leaves the object folder")
            self._bucket_dirs[bucket] = path
        return path

    def _object_path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self._bucket_dir(bucket) / "objects" / digest[:2] / digest

    def create_bucket(self, bucket: str) -> bool:
        path = self._bucket_dir(bucket)
        existed = path.exists()
        (path / "objects").mkdir(parents=True, exist_ok=True)
        return not existed

    def bucket_exists(self, bucket: str) -> bool:
        return self._bucket_dir(bucket).is_dir()

    def buckets(self) -> list[tuple[str, float]]:
        return sorted((p.name, p.stat().st_mtime) for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def put(self, bucket: str, key: str, body: bytes, meta: dict) -> None:
        path = self._object_path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path.with_suffix(".data"), body)
        _atomic_write(path.with_suffix(".json"), json.dumps({**meta, "Key": key}).encode())

    def get(self, bucket: str, key: str) -> tuple[bytes, dict] | None:
        path = self._object_path(bucket, key)
        try:
            meta = json.loads(path.with_suffix(".json").read_bytes())
            return path.with_suffix(".data").read_bytes(), meta
        except FileNotFoundError:
            return None

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
        for sidecar in (self._bucket_dir(bucket) / "objects").glob("*/*.json"):
            try:
                metas.append(json.loads(sidecar.read_bytes()))
            except (FileNotFoundError, json.JSONDecodeError):
                continue
        return sorted(metas, key=lambda m: m["Key"])

    def scratch_dir(self) -> Path:
        path = self.root / ".multipart"
        path.mkdir(exist_ok=True)
        return path


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
