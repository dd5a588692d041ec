"""The agent's own database, agent.db in its cache folder: what it played and must report.

Owns the last manifest (so a restart without the server still knows what to play), the
played set (written before the audio starts: nothing plays twice) and the outbox of
events waiting to be uploaded. Stdlib sqlite3, synchronous=FULL: power cuts are common.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The server's limits (broadcaster.stations.schemas), repeated: the agent cannot import
# the server's models.
BATCH = 500  # events per upload
MAX_DETAIL = 1000
KEEP_DAYS = 7


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class LocalStore:
    """agent.db in the cache folder: last manifest, played set, event outbox."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS played (
        occurrence_id INTEGER PRIMARY KEY,
        state TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uid TEXT NOT NULL UNIQUE,
        occurrence_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        detail TEXT NOT NULL,
        sent_at TEXT,
        rejected INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, seq);
    CREATE TABLE IF NOT EXISTS command (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        reported INTEGER NOT NULL DEFAULT 0
    );
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # the played set must survive power loss
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(self.SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statements: list[tuple[str, tuple]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def put(self, **values: str) -> None:
        self._write(
            [
                ("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (k, v))
                for k, v in values.items()
            ]
        )

    def state(self, occurrence_id: int) -> str | None:
        rows = self._read("SELECT state FROM played WHERE occurrence_id = ?", (occurrence_id,))
        return rows[0][0] if rows else None

    def handled(self) -> set[int]:
        return {row[0] for row in self._read("SELECT occurrence_id FROM played")}

    def record(self, occurrence_id: int, kind: str, detail: str = "", at: datetime | None = None):
        """Log an event in the outbox and move the played set, in one transaction."""
        uid = str(uuid.uuid4())
        moment = iso(at or utcnow())
        self._write(
            [
                (
                    "INSERT INTO outbox (uid, occurrence_id, kind, at, detail) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (uid, occurrence_id, kind, moment, detail[:MAX_DETAIL]),
                ),
                (
                    "INSERT OR REPLACE INTO played (occurrence_id, state, at) VALUES (?, ?, ?)",
                    (occurrence_id, kind, moment),
                ),
            ]
        )
        return uid

    def mark(self, occurrence_id: int, state: str) -> None:
        """Move the played set without an event (a play about to start: not sent)."""
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO played (occurrence_id, state, at) VALUES (?, ?, ?)",
                    (occurrence_id, state, iso(utcnow())),
                )
            ]
        )

    def forget(self, occurrence_id: int) -> None:
        """Out of the played set: a play prepared but never released may play after all."""
        self._write([("DELETE FROM played WHERE occurrence_id = ?", (occurrence_id,))])

    def unsent(self, limit: int = BATCH) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT uid, occurrence_id, kind, at, detail FROM outbox "
            "WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [
            {"id": u, "occurrence_id": o, "kind": k, "at": a, "detail": d} for u, o, k, a, d in rows
        ]

    def pending(self) -> int:
        return self._read("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]

    def mark_sent(self, uids: list[str], *, rejected: bool = False) -> None:
        now = iso(utcnow())
        self._write(
            [
                (
                    "UPDATE outbox SET sent_at = ?, rejected = ? WHERE uid = ?",
                    (now, int(rejected), u),
                )
                for u in uids
            ]
        )

    def prune(self, now: datetime) -> None:
        cutoff = iso(now - timedelta(days=KEEP_DAYS))
        self._write(
            [
                ("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (cutoff,)),
                ("DELETE FROM played WHERE at < ?", (cutoff,)),
                ("DELETE FROM command WHERE reported = 1 AND at < ?", (cutoff,)),
            ]
        )

    # -- the province's commands: an id is acted on once, even across restarts

    def begin_command(self, command_id: int, kind: str) -> bool:
        """Remember the command before acting on it; False if it was seen before."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO command (id, kind, state, at) VALUES (?, ?, 'acting', ?)",
                (command_id, kind, iso(utcnow())),
            )
            return cursor.rowcount == 1

    def finish_command(self, command_id: int, state: str, result: str) -> None:
        self._write(
            [
                (
                    "UPDATE command SET state = ?, result = ?, reported = 0 WHERE id = ?",
                    (state, result[:MAX_DETAIL], command_id),
                )
            ]
        )

    def unfinished_commands(self) -> list[tuple[int, str]]:
        return [
            (i, k) for i, k in self._read("SELECT id, kind FROM command WHERE state = 'acting'")
        ]

    def unreported_commands(self) -> list[tuple[int, str, str]]:
        return [
            (i, s, r)
            for i, s, r in self._read(
                "SELECT id, state, result FROM command "
                "WHERE state != 'acting' AND reported = 0 ORDER BY id"
            )
        ]

    def mark_command_reported(self, command_id: int) -> None:
        self._write([("UPDATE command SET reported = 1 WHERE id = ?", (command_id,))])
