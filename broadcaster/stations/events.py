"""Play events reported by a station's agent: checked, then stored all or nothing.

Owns what a batch of agent events does to the occurrences it is about (moved along by
broadcaster.onair.occurrences.apply_outcome) and to the station's log, once per event id
however often the agent retries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from broadcaster.core.events import EventKind
from broadcaster.core.models import Occurrence, PlayEvent
from broadcaster.onair.occurrences import Outcome, apply_outcome, record_event
from broadcaster.stations.schemas import ApiError, Event, parse_events
from broadcaster.stations.tokens import StationRef


def _apply(session: Session, station: StationRef, occurrence: Occurrence | None, event: Event):
    """Move the occurrence along and log the event under the client's id."""
    actor = f"agent:{station.code}"
    if occurrence is None:
        # Played (or skipped) by the agent, then deleted here (e.g. its schedule changed):
        # the station's log keeps it all the same.
        detail = f"occurrence {event.occurrence_id} no longer exists; {event.detail}".strip("; ")
        record_event(
            session,
            occurrence=None,
            station_id=station.id,
            kind=EventKind(event.kind),
            at=event.at,
            actor=actor,
            detail=detail,
            uid=event.uid,
        )
        return
    apply_outcome(
        session,
        occurrence,
        Outcome(EventKind(event.kind), event.detail),
        at=event.at,
        actor=actor,
        uid=event.uid,
    )


def ingest_events(
    session: Session, station: StationRef, payload: Any, *, now: datetime
) -> dict[str, Any]:
    """Store a batch of the station's events, all or nothing; a retried event counts once.

    Raises ApiError 403 (and stores nothing) if any event is about another station's
    occurrence.
    """
    events = parse_events(payload)
    uids = list({e.uid for e in events})
    owners: dict[str, int] = {}
    if uids:
        owners = dict(
            session.exec(
                select(PlayEvent.uid, PlayEvent.station_id).where(col(PlayEvent.uid).in_(uids))
            ).all()
        )
    if any(owner != station.id for owner in owners.values()):
        raise ApiError(409, "an event id is already used by another station")
    ids = list({e.occurrence_id for e in events})
    occurrences: dict[int, Occurrence] = {}
    if ids:
        # Locked (in id order, so two batches cannot deadlock): the events move these
        # occurrences along from the state read here, which nobody may change meanwhile.
        locked = (
            select(Occurrence)
            .where(col(Occurrence.id).in_(ids))
            .order_by(Occurrence.id)
            .with_for_update()
        )
        for occurrence in session.exec(locked):
            if occurrence.station_id != station.id:
                raise ApiError(403, f"occurrence {occurrence.id} belongs to another station")
            occurrences[occurrence.id] = occurrence
    accepted = duplicate = 0
    seen = set(owners)
    for event in events:
        if event.uid in seen:
            duplicate += 1
            continue
        seen.add(event.uid)
        _apply(session, station, occurrences.get(event.occurrence_id), event)
        accepted += 1
    session.flush()
    return {
        "accepted": accepted,
        "duplicate": duplicate,
        "server_time": now.astimezone(UTC).isoformat(),
    }
