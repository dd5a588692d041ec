"""Rendering ahead of air time: audio for open occurrences, hours before they play.

A render that fails is retried with the offline engine and the failure is logged against
the occurrence; one that still fails is logged, never raised, so one bad script does not
hold up the rest of the queue.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from broadcaster.core.config import Settings
from broadcaster.core.events import EventKind
from broadcaster.core.models import AudioFile, Occurrence, OccurrenceStatus, ScriptVersion, Station
from broadcaster.onair.playlog import GRACE, OPEN, record_event

log = logging.getLogger(__name__)


def render_occurrence(session: Session, settings: Settings, occurrence: Occurrence) -> AudioFile:
    """Audio for an occurrence; the version's engine first, the offline one if that fails."""
    from broadcaster.audio.render import RenderError, render_version, store_for, version_settings

    version = session.get(ScriptVersion, occurrence.version_id) if occurrence.version_id else None
    if version is None:
        # A relay without a fallback bulletin: nothing was ever meant to be rendered.
        raise RenderError(f"occurrence {occurrence.id} has no script to render", retryable=False)
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
            kind=EventKind.RENDER_FAILED,
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
        col(Occurrence.version_id).is_not(None),  # a relay without fallback renders nothing
        col(Occurrence.status).in_(OPEN),
        Occurrence.at >= now - GRACE,
        Occurrence.at < now + timedelta(hours=hours),
    )


def pending_audio(
    session: Session, *, now: datetime, hours: float, schedule_ids: list[int] | None = None
) -> list[int]:
    """Open occurrences of the next `hours` (and the grace window) that have no audio."""
    query = select(Occurrence.id).where(*_waiting_for_audio(now, hours))
    if schedule_ids is not None:
        query = query.where(col(Occurrence.schedule_id).in_(schedule_ids))
    return list(session.exec(query.order_by(Occurrence.at)))


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
            kind=EventKind.RENDER_FAILED,
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
        session, occurrence=current, station_id=current.station_id, kind=EventKind.RENDERED, at=now
    )
    return True


def render_due(session: Session, settings: Settings, *, now: datetime, hours: float = 6) -> int:
    """Render every open occurrence of the next `hours` that has no audio yet."""
    done = 0
    for occurrence_id in pending_audio(session, now=now, hours=hours):
        done += render_one(session, settings, session.get(Occurrence, occurrence_id), now=now)
    session.flush()
    return done
