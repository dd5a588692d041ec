"""Push: a station's held request is answered the moment its manifest (or commands) change.

An agent holds GET /api/v1/push open (a long poll: web/api.py); this process's PushHub
wakes it when a row naming its station, or every station, lands in `manifestchange`.
That log is written by database triggers (migrations 0010, 0011, 0013 and 0014: a station's
occurrences, its own row, approvals, titles, audio) and by wake(), which any code calls
to reach a station's held connection within the same transaction as its change. Every
server process (gunicorn workers, other machines) reads the same log, so all notice.

The log's ids come from a sequence; on PostgreSQL a transaction may commit after one
holding a higher id, so the hub reads from the highest id below which it has seen every
row and gives up on a gap only after GAP_S (a rolled-back insert leaves one for good).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.core.models import Station

log = logging.getLogger(__name__)

POLL_S = 0.2
GAP_S = 5.0
MANIFEST, COMMANDS = "manifest", "commands"
TOPICS = (MANIFEST, COMMANDS)
# Held per process when each held request takes a thread (waitress, gthread): the UI's
# requests must still find one. A gevent worker holds a request for a few kilobytes.
THREADED_MAX_HELD = 2
COOPERATIVE_MAX_HELD = 20_000


def wake(session: Session, *, station_ids: Iterable[int] | None, topic: str = MANIFEST) -> None:
    """Wake the held connections of these stations (None: every station) once the
    caller's transaction commits; their agents then sync (or fetch commands) at once."""
    if topic not in TOPICS:
        raise ValueError(f"unknown push topic {topic!r}")
    ids: list[int | None] = [None] if station_ids is None else sorted(set(station_ids))
    if not ids:
        return
    session.execute(
        text("INSERT INTO manifestchange (station_id, topic) VALUES (:station, :topic)"),
        [{"station": station_id, "topic": topic} for station_id in ids],
    )


def cooperative() -> bool:
    """Whether threads here are gevent's greenlets (gunicorn -k gevent)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey is not None and monkey.is_module_patched("threading"))


class PushFull(Exception):
    """This process already holds as many requests as it may."""


class Waiter:
    """One held request: the topics that woke it, and whether its token still works."""

    __slots__ = ("station_id", "digest", "topics", "revoked", "_event")

    def __init__(self, station_id: int, digest: str) -> None:
        self.station_id = station_id
        self.digest = digest  # sha256 of its token, as station.token_hash holds it
        self.topics: set[str] = set()
        self.revoked = False
        self._event = threading.Event()

    def wake(self, topic: str, *, revoked: bool = False) -> None:
        self.topics.add(topic)
        self.revoked = self.revoked or revoked
        self._event.set()

    def wait(self, timeout: float) -> set[str]:
        self._event.wait(timeout)
        return set(self.topics)


class PushHub:
    """The held requests of this process, woken from the change log read every POLL_S."""

    def __init__(self, engine: Engine, *, max_held: int = 0, poll_s: float = POLL_S) -> None:
        self.engine = engine
        self.max_held = max_held or (COOPERATIVE_MAX_HELD if cooperative() else THREADED_MAX_HELD)
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._waiters: dict[int, set[Waiter]] = {}
        self._held = 0
        self._floor: int | None = None  # every id up to here has been seen
        self._horizon: int | None = None  # the floor when this process began reading
        # The last change id per (station or None for all, topic) read so far: a request
        # that says which changes its agent already had is answered from here, no query.
        self._last: dict[int | None, dict[str, int]] = {}
        self._seen: set[int] = set()  # seen ids above the floor
        self._gap_since: float | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    # -- held requests

    def register(self, station_id: int, digest: str = "") -> Waiter:
        with self._lock:
            if self._held >= self.max_held:
                raise PushFull(f"this server process holds {self._held} push requests")
            if self._thread is None:
                self._floor = self._horizon = self._max_id()
                self._thread = threading.Thread(target=self._run, name="push-hub", daemon=True)
                self._thread.start()
            waiter = Waiter(station_id, digest)
            self._waiters.setdefault(station_id, set()).add(waiter)
            self._held += 1
            return waiter

    def release(self, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(waiter.station_id)
            if waiters is not None and waiter in waiters:
                waiters.discard(waiter)
                self._held -= 1
                if not waiters:
                    del self._waiters[waiter.station_id]

    def held(self) -> int:
        return self._held

    def cursor(self) -> int:
        """The change id up to which this process has read every change: an agent that
        syncs after hearing it knows of them all."""
        return self._floor or 0

    def since(self, station_id: int, cursor: int) -> set[str] | None:
        """Topics changed for this station after `cursor` that were read already; None
        when this process began reading after it (it cannot tell: look at the manifest)."""
        if self._horizon is None or cursor < self._horizon:
            return None
        with self._lock:
            return {
                topic
                for key in (station_id, None)
                for topic, last in self._last.get(key, {}).items()
                if last > cursor
            }

    def stop(self) -> None:
        self._stopped.set()

    # -- the change log

    def _max_id(self) -> int:
        with self.engine.connect() as connection:
            top = connection.execute(text("SELECT MAX(id) FROM manifestchange")).scalar()
            connection.rollback()
        return top or 0

    def _run(self) -> None:
        while not self._stopped.wait(self.poll_s):
            try:
                self.poll()
            except Exception:  # the database may be away for a while: keep trying
                log.exception("push: cannot read the change log")

    def poll(self, now: float | None = None) -> int:
        """Read new change rows and wake whom they name; returns how many were woken."""
        now = time.monotonic() if now is None else now
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, station_id, topic FROM manifestchange WHERE id > :floor ORDER BY id"
                ),
                {"floor": self._floor or 0},
            ).all()
            connection.rollback()
        with self._lock:
            fresh = []
            for change_id, station_id, topic in rows:
                if change_id not in self._seen:
                    self._seen.add(change_id)
                    fresh.append((station_id, topic or MANIFEST))
                    last = self._last.setdefault(station_id, {})
                    last[topic or MANIFEST] = max(last.get(topic or MANIFEST, 0), change_id)
            self._advance(now)
            everyone = [w for waiters in self._waiters.values() for w in waiters]
            targets = [
                (waiter, topic)
                for station_id, topic in fresh
                for waiter in (
                    everyone if station_id is None else self._waiters.get(station_id, ())
                )
            ]
        if not targets:
            return 0
        # The tokens looked at once for everyone woken (a token change is a change of its
        # station): a held request whose token was revoked or rotated ends with 401.
        tokens = self._tokens({waiter.station_id for waiter, _topic in targets})
        for waiter, topic in targets:
            waiter.wake(topic, revoked=tokens.get(waiter.station_id) != waiter.digest)
        return len(targets)

    def _tokens(self, station_ids: set[int]) -> dict[int, str]:
        """The token digest of each of these stations that is active and has one."""
        ids = sorted(station_ids)
        found: dict[int, str] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(ids), 500):
                rows = connection.execute(
                    select(Station.id, Station.token_hash).where(
                        col(Station.id).in_(ids[start : start + 500]), col(Station.is_active)
                    )
                ).all()
                found.update((row[0], row[1]) for row in rows)
            connection.rollback()
        return found

    def _advance(self, now: float) -> None:
        floor = self._floor or 0
        while floor + 1 in self._seen:
            floor += 1
            self._seen.discard(floor)
        if self._seen:
            # A gap below what was seen: a transaction not yet committed, or rolled back.
            if self._gap_since is None:
                self._gap_since = now
            elif now - self._gap_since > GAP_S:
                floor = min(self._seen) - 1
                self._gap_since = None
                while floor + 1 in self._seen:
                    floor += 1
                    self._seen.discard(floor)
        else:
            self._gap_since = None
        self._floor = floor
