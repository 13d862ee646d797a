"""SQLite state of the stand-in: entities, metric points and their summaries, a search index, page cursors.

One connection per thread, WAL, a bounded busy wait and short transactions, so threads and processes share one file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

from .errors import LocalServiceError

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    kind TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX IF NOT EXISTS entities_by_created ON entities (kind, created);
CREATE TABLE IF NOT EXISTS metrics (
    trial_component TEXT NOT NULL COLLATE NOCASE,
    metric_name TEXT NOT NULL,
    value REAL NOT NULL,
    timestamp REAL NOT NULL,
    step INTEGER
);
CREATE INDEX IF NOT EXISTS metrics_by_tc ON metrics (trial_component);
CREATE TABLE IF NOT EXISTS metric_summaries (
    trial_component TEXT NOT NULL COLLATE NOCASE,
    metric_name TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (trial_component, metric_name)
);
-- one row per searchable value of an entity: (property, list item, number or string)
CREATE TABLE IF NOT EXISTS facts (
    kind TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    property TEXT NOT NULL,
    item INTEGER NOT NULL,
    num REAL,
    str TEXT
);
CREATE INDEX IF NOT EXISTS facts_by_entity ON facts (kind, name, property);
CREATE INDEX IF NOT EXISTS facts_by_num ON facts (kind, property, num);
CREATE INDEX IF NOT EXISTS facts_by_str ON facts (kind, property, str);
CREATE TABLE IF NOT EXISTS cursors (
    token TEXT PRIMARY KEY,
    created REAL NOT NULL,
    keys TEXT NOT NULL
);
"""
CURSOR_TTL_S = 3600.0
Fact = tuple[str, int, float | None, str | None]  # property, item, num, str


class StoreUnavailable(LocalServiceError):
    """The database is locked by another process past the bounded wait: retry later."""

    def __init__(self, path: Path, waited_s: float):
        super().__init__(
            "ServiceUnavailable",
            f"The local SageMaker store {path} stayed locked by another process for {waited_s:g} s. "
            "Retry the call; if it persists, stop the other process using that folder.",
            503,
        )


class StoreDamaged(LocalServiceError):
    """The database file is not a readable SQLite database."""

    def __init__(self, path: Path, detail: str):
        super().__init__(
            "InternalFailure",
            f"The local SageMaker store {path} is damaged ({detail}). Move it aside (or delete it) to "
            "start an empty store, or restore it from a copy.",
            500,
        )


class Store:
    """Entities as JSON documents keyed by (kind, name); metric points, summaries and a search index beside them.

    index(kind, doc) gives an entity's facts; metric_index(summaries) the facts of its metric summaries;
    summarize(points) turns (name, value, timestamp) points into per-metric summaries.
    """

    def __init__(self, path: Path, index: Callable[[str, dict], list[Fact]] = lambda kind, doc: [],
                 metric_index: Callable[[list[dict]], list[Fact]] = lambda summaries: [],
                 summarize: Callable[[list[tuple]], list[dict]] = lambda points: [],
                 busy_timeout_s: float = 10.0):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._index, self._metric_index, self._summarize = index, metric_index, summarize
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()

    # Connections and errors

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            if self.path.is_symlink():
                raise StoreDamaged(self.path, "the database is a symbolic link; the store follows none")
            db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                 check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt, one fsync per checkpoint
            self._local.db = db
            if not self._ready:
                self._prepare(db)
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        with self._ready_lock:
            if self._ready:
                return
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                fresh = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
                if fresh:  # deleted components give their pages back to the file
                    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                db.execute("PRAGMA journal_mode=WAL")
                with self._tx(db):
                    for statement in _SCHEMA.split(";"):  # executescript would commit half-way
                        if statement.strip():
                            db.execute(statement)
                    if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                        self._rebuild_index(db)
                        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            else:
                db.execute("PRAGMA journal_mode=WAL")
            self._ready = True

    def service_error(self, error: sqlite3.Error) -> LocalServiceError:
        """The AWS-shaped error for a database failure: locked (retry) or damaged (repair)."""
        text = str(error)
        if isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return StoreUnavailable(self.path, self.busy_timeout_s)
        return StoreDamaged(self.path, text)

    @contextmanager
    def _tx(self, db: sqlite3.Connection | None = None):
        """A short write transaction; IMMEDIATE takes the write lock up front, so it never deadlocks."""
        db = db or self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # Entities

    def insert(self, kind: str, name: str, data: dict) -> bool:
        """Add an entity; False if one of that kind and name exists already."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO entities VALUES (?, ?, ?, ?, ?)",
                (kind, name, now, now, json.dumps(data)),
            )
            if cur.rowcount == 1:
                self._write_facts(db, kind, name, data)
            return cur.rowcount == 1

    def get(self, kind: str, name: str) -> dict | None:
        row = (
            self._connection()
            .execute("SELECT data FROM entities WHERE kind = ? AND name = ?", (kind, name))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def get_many(self, kind: str, names: list[str]) -> dict[str, dict]:
        """The entities of these names that exist, by lower-cased name."""
        found: dict[str, dict] = {}
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            rows = self._connection().execute(
                f"SELECT name, data FROM entities WHERE kind = ? AND name IN ({','.join('?' * len(chunk))})",
                (kind, *chunk),
            ).fetchall()
            found.update({name.lower(): json.loads(data) for name, data in rows})
        return found

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
            self._write_facts(db, kind, name, data)
            return data

    def delete(self, kind: str, name: str, guard: Callable[[sqlite3.Connection], None] | None = None) -> bool:
        """Remove an entity, its index, and for a trial component its metrics; guard(db) may raise to refuse."""
        with self._tx() as db:
            if guard is not None:
                guard(db)
            gone = db.execute("DELETE FROM entities WHERE kind = ? AND name = ?", (kind, name)).rowcount
            db.execute("DELETE FROM facts WHERE kind = ? AND name = ?", (kind, name))
            if kind == "trial-component":
                db.execute("DELETE FROM metrics WHERE trial_component = ?", (name,))
                db.execute("DELETE FROM metric_summaries WHERE trial_component = ?", (name,))
        self._connection().execute("PRAGMA incremental_vacuum")
        return gone == 1

    def all(self, kind: str) -> list[dict]:
        rows = (
            self._connection()
            .execute("SELECT data FROM entities WHERE kind = ? ORDER BY created", (kind,))
            .fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    def select(self, sql: str, args: Iterable = ()) -> list[tuple]:
        """A read-only query (Search compiles to one)."""
        return self._connection().execute(sql, tuple(args)).fetchall()

    # The search index

    def _write_facts(self, db, kind: str, name: str, data: dict) -> None:
        self._replace_facts(db, kind, name, "NOT LIKE", self._index(kind, data))

    def _write_metric_facts(self, db, name: str, summaries: list[dict]) -> None:
        self._replace_facts(db, "trial-component", name, "LIKE", self._metric_index(summaries))

    @staticmethod
    def _replace_facts(db, kind: str, name: str, metrics: str, facts: list[Fact]) -> None:
        """Write only what changed: an update touches a few of an entity's facts, not all of them."""
        rows = db.execute(
            f"SELECT rowid, property, item, num, str FROM facts WHERE kind = ? AND name = ? "
            f"AND property {metrics} 'Metrics.%'", (kind, name)).fetchall()
        wanted = set(facts)
        stale = [(rowid,) for rowid, *fact in rows if tuple(fact) not in wanted]
        have = {tuple(fact) for _, *fact in rows}
        db.executemany("DELETE FROM facts WHERE rowid = ?", stale)
        db.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?)",
                       [(kind, name, *fact) for fact in wanted - have])

    def _rebuild_index(self, db) -> None:
        """Index a store written before the index existed (or after it changed)."""
        db.execute("DELETE FROM facts")
        db.execute("DELETE FROM metric_summaries")
        for kind, name, data in db.execute("SELECT kind, name, data FROM entities").fetchall():
            self._write_facts(db, kind, name, json.loads(data))
        names = [r[0] for r in db.execute("SELECT DISTINCT trial_component FROM metrics").fetchall()]
        for name in names:
            self._summarize_into(db, name)

    # Metrics

    def _summarize_into(self, db, trial_component: str) -> list[dict]:
        points = db.execute(
            "SELECT metric_name, value, timestamp FROM metrics WHERE trial_component = ? ORDER BY rowid",
            (trial_component,),
        ).fetchall()
        summaries = self._summarize(points)
        db.execute("DELETE FROM metric_summaries WHERE trial_component = ?", (trial_component,))
        db.executemany("INSERT INTO metric_summaries VALUES (?, ?, ?)",
                       [(trial_component, s["MetricName"], json.dumps(s)) for s in summaries])
        self._write_metric_facts(db, trial_component, summaries)
        return summaries

    def add_metrics(self, trial_component: str, points: list[tuple]) -> None:
        """points: (metric_name, value, timestamp, step); the summaries and their index follow in one transaction."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                [(trial_component, *p) for p in points],
            )
            self._summarize_into(db, trial_component)

    def metric_points(self, trial_component: str) -> list[tuple]:
        """(metric_name, value, timestamp, step) of one trial component, in the order they were logged."""
        return (
            self._connection()
            .execute(
                "SELECT metric_name, value, timestamp, step FROM metrics WHERE trial_component = ? "
                "ORDER BY rowid",
                (trial_component,),
            )
            .fetchall()
        )

    def metric_summaries(self, names: list[str]) -> dict[str, list[dict]]:
        """The stored summaries of these trial components, by lower-cased name."""
        found: dict[str, list[dict]] = {}
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            rows = self._connection().execute(
                "SELECT trial_component, summary FROM metric_summaries "
                f"WHERE trial_component IN ({','.join('?' * len(chunk))}) ORDER BY rowid",
                chunk,
            ).fetchall()
            for name, summary in rows:
                found.setdefault(name.lower(), []).append(json.loads(summary))
        return found

    # Page cursors: a result order saved once, so later pages neither repeat nor skip when the store changes

    def save_cursor(self, keys: list) -> str:
        token = uuid.uuid4().hex
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM cursors WHERE created < ?", (now - CURSOR_TTL_S,))
            db.execute("INSERT INTO cursors VALUES (?, ?, ?)", (token, now, json.dumps(keys)))
        return token

    def load_cursor(self, token: str) -> list | None:
        row = self._connection().execute("SELECT keys FROM cursors WHERE token = ?", (token,)).fetchone()
        return json.loads(row[0]) if row else None
