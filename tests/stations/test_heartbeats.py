"""Heartbeats gathered per server process and written together, never lost on a failed
write."""

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Station, StationBeat
from broadcaster.stations.heartbeats import HeartbeatBuffer
from tests.helpers import wait_until


def beat(disk: int) -> dict:
    return {
        "seen_at": utcnow(),
        "version": "0.1.0",
        "player_state": "idle",
        "free_disk_mb": disk,
        "cache_files": 1,
        "last_sync": None,
    }


def stored(engine) -> dict[int, int]:
    with Session(engine) as session:
        return {b.station_id: b.free_disk_mb for b in session.exec(select(StationBeat)).all()}


@pytest.fixture
def station_ids(engine):
    with Session(engine) as session:
        return [s.id for s in session.exec(select(Station).order_by(Station.id).limit(3)).all()]


def test_beats_within_a_second_of_a_write_are_written_together_soon_after(engine, station_ids):
    buffer = HeartbeatBuffer(engine, flush_s=0.3)
    first, second, third = station_ids
    buffer.add(first, beat(100))  # after a quiet second: written at once
    assert stored(engine) == {first: 100}
    buffer.add(second, beat(200))
    buffer.add(third, beat(300))
    buffer.add(second, beat(250))  # only a station's latest beat matters
    assert stored(engine) == {first: 100}
    wait_until(lambda: stored(engine) == {first: 100, second: 250, third: 300}, timeout=3)


def test_a_failed_write_is_reported_and_its_beats_kept_for_the_next(engine, station_ids):
    unreachable = create_engine("sqlite:////nonexistent-folder/broadcaster.db")
    buffer = HeartbeatBuffer(unreachable, flush_s=60)
    with pytest.raises(Exception, match="unable to open database file"):
        buffer.add(station_ids[0], beat(100))
    buffer.engine = engine  # the database is back
    assert buffer.flush() == 1
    assert stored(engine) == {station_ids[0]: 100}


def test_closing_writes_what_is_pending(engine, station_ids):
    buffer = HeartbeatBuffer(engine, flush_s=60)
    buffer.add(station_ids[0], beat(100))
    buffer.add(station_ids[1], beat(200))  # waits up to 60 s
    buffer.close()
    assert stored(engine) == {station_ids[0]: 100, station_ids[1]: 200}


def test_a_beat_the_database_refuses_does_not_hold_back_the_others(engine, station_ids):
    buffer = HeartbeatBuffer(engine, flush_s=60)
    buffer.add(station_ids[0], beat(100))  # written at once
    buffer.add(station_ids[1], beat(200))
    buffer.add(999_999, beat(300))  # a station deleted since: its row cannot be written
    assert buffer.flush() == 1
    assert stored(engine) == {station_ids[0]: 100, station_ids[1]: 200}
    assert buffer.flush() == 0  # dropped, not retried forever
