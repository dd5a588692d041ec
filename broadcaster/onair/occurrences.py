"""On air: turn the plan into occurrences, render them ahead, play local ones, log misses.

Policy (documented in docs/ARCHITECTURE.md):
- An occurrence may start up to GRACE after its time; one that starts more than
  LATE_AFTER after it is flagged late. Past the grace window it is logged missed, with
  the reason, and never played.
- Occurrences are unique per (schedule, station, time) and claimed by a conditional
  update, so a restart, a second scheduler or a retry never plays anything twice.
- Audio is rendered hours ahead; a render that fails is retried with the offline engine
  and the failure is logged against the occurrence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, update
from sqlmodel import Session, col, func, select

from broadcaster.core.config import Settings
from broadcaster.core.db import one_at_a_time
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    PlayoutMode,
    ScriptVersion,
    Station,
)
from broadcaster.onair.schedules import plan

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)
LATE_AFTER = timedelta(seconds=60)
OPEN = (OccurrenceStatus.PLANNED, OccurrenceStatus.RENDERED)
SETTLED = (OccurrenceStatus.PLAYED, OccurrenceStatus.FAILED, OccurrenceStatus.SKIPPED)


def record_event(
    session: Session,
    *,
    occurrence: Occurrence | None,
    station_id: int,
    kind: str,
    at: datetime,
    actor: str = "scheduler",
    detail: str = "",
    uid: str | None = None,
) -> PlayEvent:
    event = PlayEvent(
        occurrence_id=occurrence.id if occurrence else None,
        station_id=station_id,
        kind=kind,
        at=at,
        actor=actor[:64],
        detail=detail,
        uid=uid,
    )
    session.add(event)
    return event


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
        wanted.add(key)
        occurrence = existing.get(key)
        if occurrence is None:
            session.add(
                Occurrence(
                    schedule_id=play.schedule.id,
                    station_id=play.station.id,
                    at=play.at,
                    priority=play.priority,
                    version_id=play.version.id,
                )
            )
            created += 1
        elif occurrence.status in OPEN and occurrence.version_id != play.version.id:
            session.execute(
                _still_open(update(Occurrence), occurrence).values(
                    version_id=play.version.id, audio_id=None, status=OccurrenceStatus.PLANNED
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


def render_occurrence(session: Session, settings: Settings, occurrence: Occurrence) -> AudioFile:
    """Audio for an occurrence; the version's engine first, the offline one if that fails."""
    from broadcaster.audio.render import RenderError, render_version, store_for, version_settings

    version = session.get(ScriptVersion, occurrence.version_id)
    station = session.get(Station, occurrence.station_id)
    on = occurrence.at.astimezone(ZoneInfo(station.timezone)).date()
    store = store_for(settings)
    try:
        result = render_version(
            session=session, settings=settings, store=store, version=version, station=station, on=on
        )
    except RenderError as exc:
        if version_settings(settings, version)[1] == "espeak":
            raise
        log.error(
            "render for occurrence %s failed (%s); using the offline engine", occurrence.id, exc
        )
        record_event(
            session,
            occurrence=occurrence,
            station_id=occurrence.station_id,
            kind="render_failed",
            at=occurrence.at,
            detail=f"{exc}; retried offline",
        )
        result = render_version(
            session=session,
            settings=settings,
            store=store,
            version=version,
            station=station,
            on=on,
            engine_name="espeak",
        )
    return result.audio


def _waiting_for_audio(now: datetime, hours: float) -> tuple:
    return (
        col(Occurrence.audio_id).is_(None),
        col(Occurrence.status).in_(OPEN),
        Occurrence.at >= now - GRACE,
        Occurrence.at < now + timedelta(hours=hours),
    )


def pending_audio(session: Session, *, now: datetime, hours: float) -> list[int]:
    """Open occurrences of the next `hours` (and the grace window) that have no audio."""
    return list(
        session.exec(
            select(Occurrence.id).where(*_waiting_for_audio(now, hours)).order_by(Occurrence.at)
        )
    )


def count_pending_audio(session: Session, *, now: datetime, hours: float) -> int:
    """How many pending_audio() would return: the render queue."""
    return session.exec(
        select(func.count()).select_from(Occurrence).where(*_waiting_for_audio(now, hours))
    ).one()


def render_one(
    session: Session, settings: Settings, occurrence: Occurrence, *, now: datetime
) -> bool:
    """Give one occurrence its audio; a failure is logged against it, not raised."""
    from broadcaster.audio.render import RenderError

    try:
        audio = render_occurrence(session, settings, occurrence)
    except RenderError as exc:
        log.error(
            "cannot render occurrence %s: %s",
            occurrence.id,
            exc,
            extra={"occurrence_id": occurrence.id, "station_id": occurrence.station_id},
        )
        record_event(
            session,
            occurrence=occurrence,
            station_id=occurrence.station_id,
            kind="render_failed",
            at=now,
            detail=str(exc),
        )
        return False
    # Rendering takes seconds; the occurrence may have been claimed (and rendered by the
    # dispatcher) meanwhile. Lock it and look again: setting RENDERED on a dispatched
    # occurrence would let it be claimed, and played, a second time.
    current = session.get(Occurrence, occurrence.id, with_for_update=True, populate_existing=True)
    if current is None or current.status not in OPEN:
        return False
    current.audio_id = audio.id
    current.status = OccurrenceStatus.RENDERED
    session.add(current)
    record_event(
        session, occurrence=current, station_id=current.station_id, kind="rendered", at=now
    )
    return True


def render_due(session: Session, settings: Settings, *, now: datetime, hours: float = 6) -> int:
    """Render every open occurrence of the next `hours` that has no audio yet."""
    done = 0
    for occurrence_id in pending_audio(session, now=now, hours=hours):
        done += render_one(session, settings, session.get(Occurrence, occurrence_id), now=now)
    session.flush()
    return done


def claim(session: Session, occurrence_id: int, *, now: datetime) -> bool:
    """Take an open occurrence for playing; exactly one caller ever gets True."""
    result = session.execute(
        update(Occurrence)
        .where(Occurrence.id == occurrence_id, col(Occurrence.status).in_(OPEN))
        .values(status=OccurrenceStatus.DISPATCHED)
    )
    return result.rowcount == 1


ABANDONED_PLAY = "cut short: the scheduler stopped during the play"


def release_abandoned(
    session: Session, *, now: datetime, station_ids: list[int]
) -> tuple[int, int]:
    """Settle what a scheduler process that died (or was stopped) left half-done.

    Called by a starting scheduler, which is the only one per database, so any claim it
    finds at these (local) stations belongs to a process that is gone. A claimed
    occurrence whose "started" was never written never reached the air (playout writes
    "started" before the audio begins): it is opened again, to play now if still within
    the grace window or to be swept missed. One that was playing went out in part: it is
    logged interrupted with why and never replayed, since playing it again would air it
    twice. Returns (reopened, interrupted).
    """
    if not station_ids:
        return 0, 0
    left = session.exec(
        select(Occurrence).where(
            col(Occurrence.station_id).in_(station_ids),
            col(Occurrence.status).in_((OccurrenceStatus.DISPATCHED, OccurrenceStatus.PLAYING)),
        )
    ).all()
    reopened = interrupted = 0
    for occurrence in left:
        if occurrence.status == OccurrenceStatus.DISPATCHED:
            occurrence.status = (
                OccurrenceStatus.RENDERED if occurrence.audio_id else OccurrenceStatus.PLANNED
            )
            session.add(occurrence)
            record_event(
                session,
                occurrence=occurrence,
                station_id=occurrence.station_id,
                kind="released",
                at=now,
                detail="claimed by a scheduler that stopped before playing it",
            )
            reopened += 1
        else:
            apply_outcome(
                session,
                occurrence,
                Outcome("interrupted", ABANDONED_PLAY),
                at=now,
                actor="scheduler",
            )
            interrupted += 1
    session.flush()
    return reopened, interrupted


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


def missed_reason(mode: str | None) -> str:
    """Why an occurrence of a station in this playout mode was not played in time."""
    if mode == PlayoutMode.LOCAL:
        return "not started within the grace window (was the scheduler running?)"
    if mode == PlayoutMode.MANUAL:
        return "no operator confirmed playing it within the grace window"
    return "the station reported no play within the grace window"


def sweep(session: Session, *, now: datetime) -> int:
    """Log as missed every occurrence that nobody started within the grace window."""
    stale = session.exec(
        select(Occurrence)
        .where(col(Occurrence.status).in_(OPEN), Occurrence.at < now - GRACE)
        .order_by(Occurrence.id)
        # Locked, and re-checked by PostgreSQL: one claimed meanwhile is not marked missed.
        .with_for_update()
    ).all()
    stations = {s.id: s for s in session.exec(select(Station))}
    for occurrence in stale:
        station = stations.get(occurrence.station_id)
        reason = missed_reason(station.mode if station is not None else None)
        occurrence.status = OccurrenceStatus.MISSED
        occurrence.reason = reason
        session.add(occurrence)
        record_event(
            session,
            occurrence=occurrence,
            station_id=occurrence.station_id,
            kind="missed",
            at=now,
            detail=reason,
        )
    session.flush()
    return len(stale)


@dataclass
class Outcome:
    kind: str
    detail: str = ""


def apply_outcome(
    session: Session,
    occurrence: Occurrence,
    outcome: Outcome,
    *,
    at: datetime,
    actor: str,
    uid: str | None = None,
) -> None:
    """Move an occurrence along as its play starts, ends, fails, is skipped or interrupted.

    Every outcome is logged (with the client's `uid` when an agent sent it). A "started"
    or "skipped" that arrives after the play was settled changes nothing but the log: an
    agent's late retry must not take a played occurrence back.
    """
    settled = occurrence.status in SETTLED and outcome.kind in ("started", "skipped")
    if settled:
        pass
    elif outcome.kind == "started":
        occurrence.status = OccurrenceStatus.PLAYING
        occurrence.started_at = at
        occurrence.late = at - occurrence.at > LATE_AFTER
        # An agent that played offline reports after the sweep called the play missed:
        # it did play, and the miss's reason no longer applies.
        occurrence.reason = ""
    elif outcome.kind == "finished":
        occurrence.status = OccurrenceStatus.PLAYED
        occurrence.finished_at = at
        occurrence.reason = ""
    elif outcome.kind == "confirmed":  # an operator says they played it by hand, at `at`
        occurrence.status = OccurrenceStatus.PLAYED
        occurrence.started_at = at
        occurrence.late = at - occurrence.at > LATE_AFTER
        occurrence.reason = ""
    elif outcome.kind == "failed":
        occurrence.status = OccurrenceStatus.FAILED
        occurrence.reason = outcome.detail[:500]
        occurrence.finished_at = at
    elif outcome.kind in ("interrupted", "skipped"):
        occurrence.status = OccurrenceStatus.SKIPPED
        occurrence.reason = outcome.detail[:500]
        occurrence.finished_at = at
    session.add(occurrence)
    detail = outcome.detail
    if not settled and outcome.kind in ("started", "confirmed") and occurrence.late:
        late = f"late by {int((at - occurrence.at).total_seconds())} s"
        detail = f"{late}; {detail}" if detail else late
    record_event(
        session,
        occurrence=occurrence,
        station_id=occurrence.station_id,
        kind=outcome.kind,
        at=at,
        actor=actor,
        detail=detail,
        uid=uid,
    )


def local_station_ids(session: Session) -> list[int]:
    return list(
        session.exec(
            select(Station.id).where(Station.mode == PlayoutMode.LOCAL, Station.is_active.is_(True))
        )
    )
