"""The play log and what an outcome does to a play: the one place occurrence states move.

Owns the policy windows (GRACE, LATE_AFTER), the open and settled states, `record_event`
(every row of the broadcast log) and `apply_outcome` (started, finished, confirmed,
failed, skipped, interrupted), used by local playout, the station API and the operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session

from broadcaster.core.events import RELAY_KINDS, EventKind
from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayEvent

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


def hold_for_air(session: Session, occurrence_id: int) -> bool:
    """A dispatched play is about to go on air (local playout, before its instant): from
    now on a restart treats it as aired and never plays it again. False if it is no
    longer dispatched (and so must not play)."""
    result = session.execute(
        update(Occurrence)
        .where(
            Occurrence.id == occurrence_id,
            Occurrence.status == OccurrenceStatus.DISPATCHED,
        )
        .values(status=OccurrenceStatus.PLAYING)
    )
    return result.rowcount == 1


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

    A relay's own events (connected, dropped, fallback, restored, paused, resumed) leave it
    playing: its "finished" (or "failed", when no stream came at all) ends it, with the
    seconds relayed in the detail. Every outcome is logged (with the client's `uid` when an
    agent sent it). A "started" or "skipped" that arrives after the play was settled
    changes nothing but the log: an agent's late retry must not take a played occurrence
    back.
    """
    settled = occurrence.status in SETTLED and outcome.kind in (
        EventKind.STARTED,
        EventKind.SKIPPED,
    )
    if settled or outcome.kind in RELAY_KINDS:
        pass  # a relay's drops, fallback and legs are logged; the play goes on until it ends
    elif outcome.kind == EventKind.STARTED:
        occurrence.status = OccurrenceStatus.PLAYING
        occurrence.started_at = at
        occurrence.late = at - occurrence.at > LATE_AFTER
        # An agent that played offline reports after the sweep called the play missed:
        # it did play, and the miss's reason no longer applies.
        occurrence.reason = ""
    elif outcome.kind == EventKind.FINISHED:
        occurrence.status = OccurrenceStatus.PLAYED
        occurrence.finished_at = at
        occurrence.reason = ""
    elif outcome.kind == EventKind.CONFIRMED:  # an operator says they played it by hand, at `at`
        occurrence.status = OccurrenceStatus.PLAYED
        occurrence.started_at = at
        occurrence.late = at - occurrence.at > LATE_AFTER
        occurrence.reason = ""
    elif outcome.kind == EventKind.FAILED:
        occurrence.status = OccurrenceStatus.FAILED
        occurrence.reason = outcome.detail[:500]
        occurrence.finished_at = at
    elif outcome.kind in (EventKind.INTERRUPTED, EventKind.SKIPPED):
        occurrence.status = OccurrenceStatus.SKIPPED
        occurrence.reason = outcome.detail[:500]
        occurrence.finished_at = at
    session.add(occurrence)
    detail = outcome.detail
    if not settled and outcome.kind in (EventKind.STARTED, EventKind.CONFIRMED) and occurrence.late:
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
