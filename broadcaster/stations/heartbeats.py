"""Agents' heartbeats gathered for up to a second and written in one transaction.

Every agent beats every minute: 100,000 of them are 1,700 writes a second, and on SQLite
each write transaction takes the database's one write lock while gunicorn's worker
processes queue for it. A heartbeat is telemetry (when an agent was last heard from, its
disk and player), so each server process keeps the latest beat per station and writes
them together: the first beat after a quiet second is written during its own request;
beats arriving within the second after a write wait at most FLUSH_S for the next one.
A process that dies loses at most that second, which station health (late after 3
minutes) does not notice.

Also the heartbeat's storage: store_heartbeats() keeps each station's latest beat (one
upsert for a batch), record_heartbeat() checks and stores one at once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from broadcaster.core.db import session_scope
from broadcaster.core.models import StationBeat
from broadcaster.stations.schemas import heartbeat_values
from broadcaster.stations.tokens import StationRef


def _dialect_insert(session: Session):
    """INSERT with ON CONFLICT for the session's database (SQLite or PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def store_heartbeats(session: Session, beats: dict[int, dict[str, Any]]) -> None:
    """Keep the latest heartbeat of each station (station id -> heartbeat_values())."""
    if not beats:
        return
    # One statement for them all, no read first: every agent beats every minute, and on
    # SQLite every write transaction holds the database's single write lock.
    insert = _dialect_insert(session)(StationBeat)
    names = next(iter(beats.values())).keys()
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[StationBeat.station_id],
            set_={name: insert.excluded[name] for name in names},
            # Two batches may commit out of order: a beat never replaces a newer one.
            where=insert.excluded.seen_at >= StationBeat.seen_at,
        ),
        [{"station_id": station_id, **values} for station_id, values in beats.items()],
    )


def record_heartbeat(
    session: Session, station: StationRef, payload: Any, *, now: datetime
) -> dict[str, Any]:
    store_heartbeats(session, {station.id: heartbeat_values(payload, now=now)})
    return {"server_time": now.astimezone(UTC).isoformat()}


log = logging.getLogger(__name__)

FLUSH_S = 1.0
_LIVE: weakref.WeakSet[HeartbeatBuffer] = weakref.WeakSet()


class HeartbeatBuffer:
    def __init__(self, engine: Engine, *, flush_s: float = FLUSH_S) -> None:
        self.engine = engine
        self.flush_s = flush_s
        self._lock = threading.Lock()
        self._pending: dict[int, dict[str, Any]] = {}
        self._written = float("-inf")
        self._timer: threading.Timer | None = None
        _LIVE.add(self)

    def add(self, station_id: int, values: dict[str, Any]) -> None:
        """Keep this beat; write now if nothing was written in the last FLUSH_S.

        A write that fails here raises (the agent is told, and beats again); the beats
        it carried stay pending unless a newer one for the station came meanwhile.
        """
        with self._lock:
            self._pending[station_id] = values
            due = time.monotonic() - self._written >= self.flush_s
            if not due and self._timer is None:
                wait = self.flush_s - (time.monotonic() - self._written)
                self._timer = threading.Timer(max(0.0, wait), self._flush_later)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            beats, self._pending = self._pending, {}
            self._written = time.monotonic()
        if not beats:
            return 0
        try:
            self._write(beats)
        except OperationalError:
            # The database is busy or away: keep them (unless a newer beat came meanwhile).
            with self._lock:
                for station_id, values in beats.items():
                    self._pending.setdefault(station_id, values)
            raise
        except DBAPIError:
            # A beat the database will never take (its station deleted since, say) must
            # not hold back the others: write them one by one and drop what fails.
            return self._write_one_by_one(beats)
        return len(beats)

    def _write(self, beats: dict[int, dict[str, Any]]) -> None:
        with session_scope(self.engine) as session:
            store_heartbeats(session, beats)

    def _write_one_by_one(self, beats: dict[int, dict[str, Any]]) -> int:
        written = 0
        for station_id, values in beats.items():
            try:
                self._write({station_id: values})
                written += 1
            except DBAPIError as exc:
                log.warning("heartbeats: station %s's beat dropped: %s", station_id, exc)
        return written

    def _flush_later(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except Exception:
            # Kept pending: the next beat to this process writes them, or its timer.
            log.exception("heartbeats: writing %d pending beats failed", len(self._pending))

    def close(self) -> None:
        """Write what is pending (at shutdown)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush()


@atexit.register
def _write_pending_at_exit() -> None:
    for buffer in list(_LIVE):
        try:
            buffer.close()
        except Exception:
            log.exception("heartbeats: pending beats lost at exit")
