"""Plays that did not go out: the sweep that logs misses, and what a stopped scheduler left.

A miss is logged with the reason a person can act on (was the scheduler running? did the
operator confirm?), and a play cut short by a stopped scheduler is logged interrupted and
never replayed.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from broadcaster.core.events import EventKind
from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayoutMode, Station
from broadcaster.onair.playlog import GRACE, OPEN, Outcome, apply_outcome, record_event

ABANDONED_PLAY = "cut short: the scheduler stopped during the play"


def release_abandoned(
    session: Session,
    *,
    now: datetime,
    station_ids: list[int],
    released: set[int] | None = None,
) -> tuple[int, int]:
    """Settle what a scheduler process that died (or was stopped) left half-done.

    Called by a starting scheduler, which is the only one per database, so any claim it
    finds at these (local) stations belongs to a process that is gone. A claimed
    occurrence never held for air (READY) never reached it; nor did one held but whose
    sound the release journal `released` (onair.releases; None: none to tell) does not
    name. Either is opened again, to play now if still within the grace window or to be
    swept missed. One that may have sounded went out in part: it is logged interrupted
    with why and never replayed, since playing it again would air it twice. Returns
    (reopened, interrupted).
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
        held_silent = (
            occurrence.status == OccurrenceStatus.PLAYING
            and occurrence.started_at is None
            and released is not None
            and occurrence.id not in released
        )
        if occurrence.status == OccurrenceStatus.DISPATCHED or held_silent:
            occurrence.status = (
                OccurrenceStatus.RENDERED if occurrence.audio_id else OccurrenceStatus.PLANNED
            )
            session.add(occurrence)
            record_event(
                session,
                occurrence=occurrence,
                station_id=occurrence.station_id,
                kind=EventKind.RELEASED,
                at=now,
                detail=(
                    "prepared by a scheduler that stopped before its sound"
                    if held_silent
                    else "claimed by a scheduler that stopped before playing it"
                ),
            )
            reopened += 1
        else:
            apply_outcome(
                session,
                occurrence,
                Outcome(EventKind.INTERRUPTED, ABANDONED_PLAY),
                at=now,
                actor="scheduler",
            )
            interrupted += 1
    session.flush()
    return reopened, interrupted


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
            kind=EventKind.MISSED,
            at=now,
            detail=reason,
        )
    session.flush()
    return len(stale)
