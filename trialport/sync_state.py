"""What ``trialport sync`` knows between runs, in one SQLite file: the hash of every resource the FHIR
server confirmed, each trial's standing, and the runs.

The state never claims more than the server confirmed: a resource's hash is written only after the
server answered 2xx for it, and each batch is committed as soon as it is answered, so a run stopped
part-way keeps everything confirmed before it. One sync at a time: the file is locked (``flock``) for
the whole run, so a second sync started on the same state refuses at once; the lock goes with the
process, so a killed run never leaves a stale one.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,               -- server, fhir_version, mode, query, trialport, watermark, last_success
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    nct TEXT PRIMARY KEY,
    status TEXT NOT NULL,               -- pushed | pending | failed | missing | deleted
    in_query INTEGER NOT NULL,          -- 1: the query returned it last run; 0: it left the query
    last_update TEXT,                   -- the registry's last update posted date, as last read
    message TEXT,                       -- why it failed, or was found missing
    changed TEXT NOT NULL               -- when this row last changed (UTC)
);
CREATE TABLE IF NOT EXISTS resources (
    key TEXT PRIMARY KEY,               -- Type/id as trialport builds it
    trial TEXT,                         -- the trial it belongs to; NULL: shared by trials
    hash TEXT NOT NULL,                 -- of the resource as the server confirmed it
    server_ref TEXT NOT NULL,           -- Type/id where the server keeps it (its own id in conditional mode)
    confirmed TEXT NOT NULL             -- when the server confirmed it (UTC)
);
CREATE INDEX IF NOT EXISTS resources_trial ON resources (trial);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,               -- running | ok | failed | interrupted
    kind TEXT,                          -- full | incremental
    data_timestamp TEXT,                -- the registry's data timestamp when the run fetched
    fetched INTEGER NOT NULL DEFAULT 0, -- studies read from the API
    pushed INTEGER NOT NULL DEFAULT 0,  -- trials the server confirmed
    unchanged INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    shared INTEGER NOT NULL DEFAULT 0,  -- shared resources pushed (new or changed)
    missing INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    message TEXT
);
"""


class StateLocked(Exception):
    """Another sync holds the state file."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class TrialRow:
    nct: str
    status: str
    in_query: bool
    last_update: str | None
    message: str | None


class State:
    """The state file, locked for as long as it is open (``with State(path) as state``)."""

    def __init__(self, path: str | Path, lock: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = None
        if lock:
            self._lock = open(self.path, "a+b")  # noqa: SIM115  (closed in close)
            try:
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock.close()
                raise StateLocked(self._holder()) from None
        self.db = sqlite3.connect(self.path, timeout=30)  # each ``with self.db`` block is one transaction
        self.db.executescript(SCHEMA)

    def _holder(self) -> str:
        where = f"{self.path}: another sync is running on this state"
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
            row = db.execute("SELECT pid, started FROM runs WHERE status = 'running' ORDER BY id DESC").fetchone()
            db.close()
        except sqlite3.Error:
            row = None
        return f"{where} (pid {row[0]}, started {row[1]})" if row else where

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.close()  # releases the flock

    # -- meta ------------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, **values: str | None) -> None:
        with self.db:
            for key, value in values.items():
                if value is None:
                    self.db.execute("DELETE FROM meta WHERE key = ?", (key,))
                else:
                    self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- runs ------------------------------------------------------------------------------------------
    def begin_run(self) -> int:
        with self.db:
            # a run still marked running was killed (its lock died with it)
            self.db.execute("UPDATE runs SET status = 'interrupted', finished = ? WHERE status = 'running'", (now(),))
            cursor = self.db.execute(
                "INSERT INTO runs (pid, started, status) VALUES (?, ?, 'running')", (os.getpid(), now())
            )
        return int(cursor.lastrowid or 0)

    def end_run(self, run: int, status: str, message: str | None = None, **counts: int | str | None) -> None:
        columns = "".join(f", {name} = ?" for name in counts)
        with self.db:
            self.db.execute(
                f"UPDATE runs SET status = ?, finished = ?, message = ?{columns} WHERE id = ?",
                (status, now(), message, *counts.values(), run),
            )

    def runs(self, limit: int = 1) -> list[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            return self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        finally:
            self.db.row_factory = None

    # -- trials and resources --------------------------------------------------------------------------
    def trials(self) -> dict[str, TrialRow]:
        rows = self.db.execute("SELECT nct, status, in_query, last_update, message FROM trials")
        return {r[0]: TrialRow(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows}

    def hashes(self) -> dict[str, tuple[str, str, str | None]]:
        """Every confirmed resource: key → (hash, server_ref, trial or None)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.db.execute("SELECT key, hash, server_ref, trial FROM resources")}

    def set_trials(self, rows: Iterable[tuple[str, str, bool, str | None, str | None]]) -> None:
        """(nct, status, in_query, last_update, message) each; last_update None keeps the one recorded."""
        stamp = now()
        with self.db:
            for nct, status, in_query, last_update, message in rows:
                self.db.execute(
                    "INSERT INTO trials (nct, status, in_query, last_update, message, changed)"
                    " VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (nct) DO UPDATE SET status = excluded.status, in_query = excluded.in_query,"
                    " last_update = coalesce(excluded.last_update, trials.last_update),"
                    " message = excluded.message, changed = excluded.changed",
                    (nct, status, int(in_query), last_update, message, stamp),
                )

    def set_in_query(self, in_query: set[str]) -> None:
        with self.db:
            for nct, flag in self.db.execute("SELECT nct, in_query FROM trials").fetchall():
                if bool(flag) != (nct in in_query):
                    self.db.execute("UPDATE trials SET in_query = ? WHERE nct = ?", (int(nct in in_query), nct))

    def confirm(
        self,
        shared: Iterable[tuple[str, str, str]],
        trials: Iterable[tuple[str, str | None, dict[str, tuple[str, str]]]],
    ) -> None:
        """What the server confirmed, in one transaction: shared resources (key, hash, server_ref), and
        trials (nct, last_update, {key: (hash, server_ref)} of all its own resources), then pushed."""
        stamp = now()
        with self.db:
            for key, digest, ref in shared:
                self.db.execute(
                    "INSERT OR REPLACE INTO resources (key, trial, hash, server_ref, confirmed)"
                    " VALUES (?, NULL, ?, ?, ?)",
                    (key, digest, ref, stamp),
                )
            for nct, last_update, own in trials:
                self.db.execute("DELETE FROM resources WHERE trial = ?", (nct,))
                self.db.executemany(
                    "INSERT OR REPLACE INTO resources (key, trial, hash, server_ref, confirmed) VALUES (?, ?, ?, ?, ?)",
                    [(key, nct, digest, ref, stamp) for key, (digest, ref) in own.items()],
                )
                self.db.execute(
                    "UPDATE trials SET status = 'pushed', message = NULL, changed = ?,"
                    " last_update = coalesce(?, last_update) WHERE nct = ?",
                    (stamp, last_update, nct),
                )

    def own_refs(self, nct: str) -> list[str]:
        """Where the server keeps the trial's own resources (its ResearchStudy first)."""
        rows = self.db.execute("SELECT key, server_ref FROM resources WHERE trial = ?", (nct,)).fetchall()
        return [ref for key, ref in sorted(rows, key=lambda r: not r[0].startswith("ResearchStudy/"))]

    def deleted(self, nct: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM resources WHERE trial = ?", (nct,))
            self.db.execute(
                "UPDATE trials SET status = 'deleted', message = NULL, changed = ? WHERE nct = ?", (now(), nct)
            )

    def summary(self) -> dict[str, int]:
        found = dict(self.db.execute("SELECT status, count(*) FROM trials GROUP BY status").fetchall())
        found["resources"] = self.db.execute("SELECT count(*) FROM resources").fetchone()[0]
        found["shared resources"] = self.db.execute("SELECT count(*) FROM resources WHERE trial IS NULL").fetchone()[0]
        return found

    def problems(self, limit: int = 20) -> list[tuple[str, str, str]]:
        """Trials failed, pending or missing: (nct, status, message)."""
        return self.db.execute(
            "SELECT nct, status, coalesce(message, '') FROM trials WHERE status IN ('failed', 'pending', 'missing')"
            " ORDER BY nct LIMIT ?",
            (limit,),
        ).fetchall()
