"""Local playout (the scheduler machine's own loudspeakers) relays a real Icecast stream.

The null player's time scale shortens the slot: a 1-minute relay lasts 3 s.
"""

import time as walltime

from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    StreamSource,
    StreamStatus,
)
from broadcaster.onair.localplayout import Runtime
from broadcaster.onair.players import NullPlayer
from broadcaster.onair.relaycues import NOT_APPROVED
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from tests import stationapi_support as support

LOCAL = "HUE-PHU-XUAN"


def relay_now(session, url: str, status=StreamStatus.APPROVED) -> int:
    """A 1-minute relay of `url` at LOCAL, due now; returns its occurrence id."""
    stream = StreamSource(name="Đài tỉnh", url=url, status=StreamStatus.APPROVED)
    session.add(stream)
    session.flush()
    schedule = save_schedule(
        session=session,
        data=ScheduleInput(
            name="Tiếp sóng đài tỉnh",
            script=None,
            stream=stream,
            duration_min=1,
            kind="weekly",
            weekdays=list(range(7)),
            times=["03:00"],
            station_ids=[support.station(session, LOCAL).id],
        ),
        actor=support.user(session, "approver"),
    )
    stream.status = status  # e.g. retired after it was scheduled
    session.add(stream)
    occurrence = Occurrence(
        schedule_id=schedule.id,
        station_id=support.station(session, LOCAL).id,
        at=utcnow(),
        status=OccurrenceStatus.PLANNED,
    )
    session.add(occurrence)
    session.commit()
    return occurrence.id


def settled(session, occurrence_id: int, timeout: float = 20) -> Occurrence:
    deadline = walltime.monotonic() + timeout
    while walltime.monotonic() < deadline:
        session.commit()
        session.expire_all()
        occurrence = session.get(Occurrence, occurrence_id)
        if occurrence.status not in (OccurrenceStatus.DISPATCHED, OccurrenceStatus.PLAYING):
            return occurrence
        walltime.sleep(0.1)
    raise AssertionError(f"occurrence {occurrence_id} still {occurrence.status}")


def kinds(session, occurrence_id: int) -> list[str]:
    query = select(PlayEvent).where(PlayEvent.occurrence_id == occurrence_id)
    return [e.kind for e in session.exec(query.order_by(PlayEvent.id))]


def test_a_local_station_relays_the_stream_for_its_slot(settings, session, icecast):
    feed = icecast.feed("/tinh.mp3")
    occurrence_id = relay_now(session, feed.url)
    runtime = Runtime(settings, player_factory=lambda: NullPlayer(time_scale=0.05))
    try:
        assert runtime.dispatch() == 1
        occurrence = settled(session, occurrence_id)
    finally:
        runtime.close()
    assert occurrence.status == OccurrenceStatus.PLAYED, occurrence.reason
    assert kinds(session, occurrence_id) == ["started", "relay_connected", "finished"]
    finished = session.exec(
        select(PlayEvent).where(
            PlayEvent.occurrence_id == occurrence_id, PlayEvent.kind == "finished"
        )
    ).one()
    assert finished.detail.endswith(" of 3 s, 0 drops")


def test_a_stream_no_longer_approved_is_not_relayed(settings, session, icecast):
    feed = icecast.feed("/tinh.mp3")
    occurrence_id = relay_now(session, feed.url, status=StreamStatus.RETIRED)
    runtime = Runtime(settings, player_factory=lambda: NullPlayer(time_scale=0.05))
    try:
        assert runtime.dispatch() == 0
    finally:
        runtime.close()
    session.expire_all()
    occurrence = session.get(Occurrence, occurrence_id)
    assert occurrence.status == OccurrenceStatus.SKIPPED
    assert occurrence.reason == NOT_APPROVED
    assert kinds(session, occurrence_id) == ["skipped"]
