"""Station manifests kept in memory, dropped exactly when what they show changes.

Agents poll their manifest every minute and it rarely changes, but every database read
costs a threaded server two handovers of the GIL (the sqlite3 driver releases it around
each step), which under load costs more than the rest of the request. So each server
process keeps the manifests it has built, by token, and every POLL_S at most it reads the
change log that SQLite triggers write (migration 0010: a station's occurrences, the
station itself; NULL for approvals, titles and audio, which touch everyone) and drops
those stations' manifests. A change reaches agents within POLL_S; nothing else is stale.

SQLite only (the triggers are), and per process: each gunicorn worker has its own.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from broadcaster.core.db import writer
from broadcaster.stations.api import Manifest, hash_token, manifest_for_token

POLL_S = 0.5
# A manifest also depends on the clock (its 48 h window), though whatever enters or
# leaves that window does so through a logged change (materialized, played, swept);
# this bounds any drift the log would not show.
MAX_AGE_S = 15 * 60
MAX_ENTRIES = 20_000  # about 2 KB each


class ManifestCache:
    def __init__(self, engine: Engine, *, clock=time.monotonic) -> None:
        self.engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Manifest, float]] = {}  # token digest -> (, built)
        self._by_station: dict[int, set[str]] = {}
        self._last_change: int | None = None
        self._polled = float("-inf")
        self._polls = 0  # bumped by every poll that dropped something

    def manifest(
        self, token: str | None, *, now: datetime, fresh: bool = False, seen: int | None = None
    ) -> Manifest | None:
        """As stationapi.manifest_for_token(), from memory when nothing has changed.

        `fresh`: read the change log first whenever it was last read (an agent told of a
        change by push asks so: another process may have seen the change before this one),
        unless this process has read it up to `seen` already (the push answer's cursor).
        """
        if not token:
            return None
        clock = self._clock()
        if fresh and seen is not None and self._last_change is not None:
            fresh = self._last_change < seen
        if fresh or clock - self._polled >= POLL_S:
            self._poll(clock, force=fresh)
        digest = hash_token(token)
        entry = self._entries.get(digest)
        if entry is not None and clock - entry[1] < MAX_AGE_S:
            return entry[0]
        polls = self._polls
        built = manifest_for_token(self.engine, token, now=now)
        if built is not None:
            with self._lock:
                # A poll that dropped entries while this one was being read may have
                # been about this station: keep it only if none happened.
                if polls == self._polls:
                    self._keep(digest, built, clock)
        return built

    def _keep(self, digest: str, built: Manifest, clock: float) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            for old in list(self._entries)[: MAX_ENTRIES // 10]:  # the oldest tenth
                self._drop(old)
        self._entries[digest] = (built, clock)
        self._by_station.setdefault(built.station_id, set()).add(digest)

    def _drop(self, digest: str) -> None:
        entry = self._entries.pop(digest, None)
        if entry is not None:
            digests = self._by_station.get(entry[0].station_id)
            if digests is not None:
                digests.discard(digest)

    def _clear(self) -> None:
        self._entries.clear()
        self._by_station.clear()

    def _poll(self, clock: float, *, force: bool = False) -> None:
        with self._lock:
            # Another thread has just done it; forced, one that began after this request
            # did (so a burst of fresh requests costs one read, not one each).
            if self._polled >= clock if force else clock - self._polled < POLL_S:
                return
            with self.engine.connect() as connection:
                if self._last_change is None:
                    last = connection.execute(text("SELECT MAX(id) FROM manifestchange"))
                    self._last_change = last.scalar() or 0
                    self._clear()
                else:
                    rows = connection.execute(
                        text(
                            "SELECT id, station_id FROM manifestchange WHERE id > :last ORDER BY id"
                        ),
                        {"last": self._last_change},
                    ).all()
                    if rows:
                        self._forget(rows)
                        self._last_change = rows[-1][0]
                    elif self._entries:
                        # Ids below ours (an older database restored under us, say) would
                        # never match `id > last`: start afresh rather than go stale.
                        top = connection.execute(text("SELECT MAX(id) FROM manifestchange"))
                        top = top.scalar() or 0
                        if top < self._last_change:
                            self._polls += 1
                            self._clear()
                            self._last_change = top
                connection.rollback()
            self._polled = clock

    def _forget(self, rows) -> None:
        self._polls += 1
        if rows[0][0] != self._last_change + 1:
            self._clear()  # the log was pruned past us: we cannot tell what changed
            return
        stations = {station_id for _id, station_id in rows}
        if None in stations:
            self._clear()
            return
        for station_id in stations:
            for digest in list(self._by_station.pop(station_id, ())):
                self._entries.pop(digest, None)


def prune(engine: Engine, *, keep: int = 100_000) -> int:
    """Delete all but the last `keep` change rows (a server process reads them within a
    second; one that fell further behind notices the gap and starts afresh)."""
    if keep < 1:
        raise ValueError("keep at least the last row: ids must not start again from 1")
    with writer(engine).begin() as connection:
        result = connection.execute(
            text(
                "DELETE FROM manifestchange WHERE id <= "
                "(SELECT COALESCE(MAX(id), 0) FROM manifestchange) - :keep"
            ),
            {"keep": keep},
        )
        return result.rowcount or 0
