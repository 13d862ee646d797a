"""SQLite state of the stand-in: experiments, trials, trial components, metric points, lineage.

One connection per thread, WAL, a busy timeout and short transactions, so threads and processes share one file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    kind TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS metrics (
    trial_component TEXT NOT NULL COLLATE NOCASE,
    metric_name TEXT NOT NULL,
    value REAL NOT NULL,
    timestamp REAL NOT NULL,
    step INTEGER
);
CREATE INDEX IF NOT EXISTS metrics_by_tc ON metrics (trial_component);
"""


class Store:
    """Entities as JSON documents keyed by (kind, name); metric points in their own table."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self):
        """A short write transaction; IMMEDIATE takes the write lock up front, so it never deadlocks."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def insert(self, kind: str, name: str, data: dict) -> bool:
        """Add an entity; False if one of that kind and name exists already."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO entities VALUES (?, ?, ?, ?, ?)",
                (kind, name, now, now, json.dumps(data)),
            )
            return cur.rowcount == 1

    def get(self, kind: str, name: str) -> dict | None:
        row = (
            self._connection()
            .execute("SELECT data FROM entities WHERE kind = ? AND name = ?", (kind, name))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def update(self, kind: str, name: str, change) -> dict | None:
        """Apply change(data) -> None to an entity atomically; None if it does not exist."""
        with self._tx() as db:
            row = db.execute(
                "SELECT data FROM entities WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            if row is None:
                return None
            data = json.loads(row[0])
            change(data)
            db.execute(
                "UPDATE entities SET data = ?, modified = ? WHERE kind = ? AND name = ?",
                (json.dumps(data), time.time(), kind, name),
            )
            return data

    def all(self, kind: str) -> list[dict]:
        rows = (
            self._connection()
            .execute("SELECT data FROM entities WHERE kind = ? ORDER BY created", (kind,))
            .fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def add_metrics(self, trial_component: str, points: list[tuple]) -> None:
        """points: (metric_name, value, timestamp, step)."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                [(trial_component, *p) for p in points],
            )

    def metric_points(self, trial_component: str) -> list[tuple[str, float, float]]:
        """(metric_name, value, timestamp) of one trial component, in the order they were logged."""
        return (
            self._connection()
            .execute(
                "SELECT metric_name, value, timestamp FROM metrics WHERE trial_component = ? "
                "ORDER BY rowid",
                (trial_component,),
            )
            .fetchall()
        )
