"""A relay's steps in the broadcast log: the occurrence stays playing through them, and the
log page and its export read them in Vietnamese."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from broadcaster.core.events import EventKind
from broadcaster.core.models import Occurrence, OccurrenceStatus, Station
from broadcaster.onair.occurrences import Outcome, apply_outcome
from broadcaster.onair.relay import Tally
from broadcaster.onair.schedules import version_for
from tests.onair.test_occurrences import approved_script, weekly

SLOT = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # 06:00 in Huế on 30/11


def test_a_relays_steps_are_logged_in_vietnamese_and_it_ends_played(client, auth, session):
    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-THUAN-AN"], list(range(7)), ["06:00"])
    station = session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one()
    occurrence = Occurrence(
        schedule_id=schedule.id,
        station_id=station.id,
        at=SLOT,
        version_id=version_for(session, schedule).id,
    )
    session.add(occurrence)
    session.flush()
    steps = [
        (EventKind.STARTED, "relay of VOV1"),
        (EventKind.RELAY_CONNECTED, "connected to http://radio.example.vn/vov1.mp3"),
        (EventKind.RELAY_DROPPED, "the stream dropped: the stream ended; retrying"),
        (EventKind.RELAY_FALLBACK, "playing the fallback bulletin until the stream is back"),
        (EventKind.RELAY_RESTORED, "the stream is back after 12 s (3 attempts)"),
    ]
    for second, (kind, detail) in enumerate(steps):
        at = SLOT + timedelta(seconds=second)
        apply_outcome(session, occurrence, Outcome(kind, detail), at=at, actor="agent:X")
        assert occurrence.status == OccurrenceStatus.PLAYING
    summary = Tally(slot_s=1800, relayed_s=1780, drops=1, fallback_s=14).summary()
    end = SLOT + timedelta(minutes=30)
    apply_outcome(session, occurrence, Outcome(EventKind.FINISHED, summary), at=end, actor="a")
    assert occurrence.status == OccurrenceStatus.PLAYED
    session.commit()

    auth.login("approver")
    text = client.get("/logs?from=2026-11-30&to=2026-11-30&format=csv").get_data(as_text=True)
    assert "Tiếp sóng: mất sóng" in text
    assert "Mất sóng (luồng phát đã kết thúc); đang kết nối lại" in text
    assert "Có sóng trở lại sau 12 giây (3 lần thử)" in text
    assert (
        "Đã tiếp sóng 1780 giây trong 1800 giây, mất sóng 1 lần, phát bản tin dự phòng 14 giây"
    ) in text
    page = client.get("/logs?from=2026-11-30&to=2026-11-30&kind=relay_fallback")
    table = page.get_data(as_text=True).split('id="log"', 1)[1].split("</table>", 1)[0]
    assert "Phát bản tin dự phòng cho đến khi có sóng trở lại" in table
    assert "Tiếp sóng: mất sóng" not in table
