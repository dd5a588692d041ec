"""On air: turn the plan into occurrences, render them ahead, play local ones, log misses.

Policy (documented in docs/ARCHITECTURE.md):
- An occurrence may start up to GRACE after its time; one that starts more than
  LATE_AFTER after it is flagged late. Past the grace window it is logged missed, with
  the reason, and never played.
- Occurrences are unique per (schedule, station, time) and claimed by a conditional
  update, so a restart, a second scheduler or a retry never plays anything twice.
- Audio is rendered hours ahead; a render that fails is retried with the offline engine
  and the failure is logged against the occurrence.

The log and outcomes are in `onair.playlog`, rendering ahead in `onair.prerender`, misses
in `onair.misses`; this module materializes and claims, and is the public face of all four.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from broadcaster.core.db import one_at_a_time
from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayoutMode, Station
from broadcaster.onair.misses import ABANDONED_PLAY, missed_reason, release_abandoned, sweep
from broadcaster.onair.playlog import (
    GRACE,
    LATE_AFTER,
    OPEN,
    SETTLED,
    Outcome,
    apply_outcome,
    record_event,
)
from broadcaster.onair.prerender import (
    count_pending_audio,
    pending_audio,
    render_due,
    render_occurrence,
    render_one,
)
from broadcaster.onair.schedules import plan

__all__ = [
    "ABANDONED_PLAY",
    "GRACE",
    "LATE_AFTER",
    "OPEN",
    "SETTLED",
    "Outcome",
    "apply_outcome",
    "claim",
    "count_pending_audio",
    "due",
    "local_station_ids",
    "materialize",
    "missed_reason",
    "pending_audio",
    "record_event",
    "release_abandoned",
    "render_due",
    "render_occurrence",
    "render_one",
    "sweep",
]

log = logging.getLogger(__name__)


def materialize(
    session: Session,
    *,
    now: datetime,
    hours: float = 48,
    schedule_ids: list[int] | None = None,
    station_ids: list[int] | None = None,
) -> int:
    """Write the plan for [now - GRACE, now + hours) as occurrences; returns how many are new.

    Idempotent. Unstarted occurrences follow their schedule: a newer approved version
    replaces the planned one, and plays the schedule no longer makes are removed.
    """
    # Two materializations at once (the scheduler's jobs, a portal page) would both insert
    # the same new occurrences; one would fail on the unique key.
    one_at_a_time(session, "materialize")
    start, end = now - GRACE, now + timedelta(hours=hours)
    plays = plan(session, start, end, schedule_ids=schedule_ids, station_ids=station_ids)
    query = select(Occurrence).where(Occurrence.at >= start, Occurrence.at < end)
    if schedule_ids is not None:
        query = query.where(col(Occurrence.schedule_id).in_(schedule_ids))
    if station_ids is not None:
        query = query.where(col(Occurrence.station_id).in_(station_ids))
    existing = {(o.schedule_id, o.station_id, o.at): o for o in session.exec(query)}
    wanted = set()
    created = 0
    for play in plays:
        key = (play.schedule.id, play.station.id, play.at)
        # A relay's version is its fallback's, if it has one.
        version_id = play.version.id if play.version is not None else None
        wanted.add(key)
        occurrence = existing.get(key)
        if occurrence is None:
            session.add(
                Occurrence(
                    schedule_id=play.schedule.id,
                    station_id=play.station.id,
                    at=play.at,
                    priority=play.priority,
                    version_id=version_id,
                )
            )
            created += 1
        elif occurrence.status in OPEN and occurrence.version_id != version_id:
            session.execute(
                _still_open(update(Occurrence), occurrence).values(
                    version_id=version_id, audio_id=None, status=OccurrenceStatus.PLANNED
                ),
                execution_options={"synchronize_session": "fetch"},
            )
    for key, occurrence in existing.items():
        if key not in wanted and occurrence.status in OPEN and occurrence.at > now:
            session.execute(
                _still_open(delete(Occurrence), occurrence),
                execution_options={"synchronize_session": "fetch"},
            )
    session.flush()
    return created


def _still_open(statement, occurrence: Occurrence):
    # Conditional: a claim committed since the occurrence was read (a writer on
    # PostgreSQL does not hold the whole database as SQLite's does) must not be undone.
    return statement.where(Occurrence.id == occurrence.id, col(Occurrence.status).in_(OPEN))


def claim(session: Session, occurrence_id: int, *, now: datetime) -> bool:
    """Take an open occurrence for playing; exactly one caller ever gets True."""
    result = session.execute(
        update(Occurrence)
        .where(Occurrence.id == occurrence_id, col(Occurrence.status).in_(OPEN))
        .values(status=OccurrenceStatus.DISPATCHED)
    )
    return result.rowcount == 1


def due(
    session: Session, *, now: datetime, station_ids: list[int], schedule_id: int | None = None
) -> list[Occurrence]:
    """Open occurrences of these stations whose time has come, within the grace window."""
    query = select(Occurrence).where(
        col(Occurrence.station_id).in_(station_ids),
        col(Occurrence.status).in_(OPEN),
        Occurrence.at <= now,
        Occurrence.at >= now - GRACE,
    )
    if schedule_id is not None:
        query = query.where(Occurrence.schedule_id == schedule_id)
    return list(session.exec(query.order_by(Occurrence.at, Occurrence.priority.desc())))


def local_station_ids(session: Session) -> list[int]:
    return list(
        session.exec(
            select(Station.id).where(Station.mode == PlayoutMode.LOCAL, Station.is_active.is_(True))
        )
    )
