"""Stream sources: registered after a real check (icecast2 on loopback), approved by another."""

from __future__ import annotations

import pytest
from sqlmodel import select

from broadcaster.audio.streamcheck import StreamCheckError
from broadcaster.core.models import AuditEntry, Schedule, StreamSource, StreamStatus
from broadcaster.onair import streams
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from tests import stationapi_support as support


def test_it_registers_a_live_stream_in_draft_and_refuses_one_nobody_hears(session, icecast):
    admin = support.user(session, "admin")
    feed = icecast.feed("/vov1.mp3")
    stream = streams.register_stream(session=session, name=" VOV1  ", url=feed.url, actor=admin)
    assert (stream.name, stream.status, stream.kind, stream.codec) == (
        "VOV1",
        "draft",
        "mp3",
        "mp3",
    )
    assert stream.check_ok and stream.bitrate_kbps == 64 and stream.checked_at is not None
    with pytest.raises(StreamCheckError) as refused:
        streams.register_stream(
            session=session, name="Đài tỉnh", url=f"{icecast.url}/nobody.mp3", actor=admin
        )
    assert refused.value.code == "stream_unreachable"
    assert session.exec(select(StreamSource).where(StreamSource.name == "Đài tỉnh")).first() is None
    with pytest.raises(streams.StreamError) as taken:
        streams.register_stream(session=session, name="VOV1", url=feed.url, actor=admin)
    assert taken.value.code == "stream_name_taken"
    with pytest.raises(streams.StreamError) as editor:
        streams.register_stream(
            session=session, name="X", url=feed.url, actor=support.user(session, "editor")
        )
    assert editor.value.code == "not_allowed"


def test_four_eyes_and_a_new_address_goes_back_to_review(session, icecast):
    admin, approver = support.user(session, "admin"), support.user(session, "approver")
    first, second = icecast.feed("/a.mp3"), icecast.feed("/b.aac", codec="aac")
    stream = streams.register_stream(session=session, name="VOV1", url=first.url, actor=admin)
    with pytest.raises(streams.StreamError) as own:
        streams.approve_stream(session=session, stream=stream, actor=admin)
    assert own.value.code == "stream_self_approval"
    with pytest.raises(streams.StreamError) as editor:
        streams.approve_stream(
            session=session, stream=stream, actor=support.user(session, "editor")
        )
    assert editor.value.code == "not_allowed"
    streams.approve_stream(session=session, stream=stream, actor=approver)
    assert stream.status == StreamStatus.APPROVED and stream.reviewed_by_id == approver.id

    streams.edit_stream(session=session, stream=stream, name="VOV 1", url=first.url, actor=admin)
    assert stream.status == StreamStatus.APPROVED, "a new name is not a new stream"
    streams.edit_stream(session=session, stream=stream, name="VOV 1", url=second.url, actor=admin)
    assert (stream.status, stream.kind, stream.reviewed_by_id) == ("draft", "aac", None)
    # the approver changed nothing; the admin who changed the address cannot approve it
    with pytest.raises(streams.StreamError):
        streams.approve_stream(session=session, stream=stream, actor=admin)
    actions = session.exec(
        select(AuditEntry.action).where(
            AuditEntry.entity_type == "stream", AuditEntry.entity_id == str(stream.id)
        )
    ).all()
    assert actions == ["create", "approve", "update", "update"]


def test_a_failed_recheck_is_recorded_and_blocks_approval_until_it_hears_again(session, icecast):
    admin, approver = support.user(session, "admin"), support.user(session, "approver")
    feed = icecast.feed("/vov1.mp3")
    stream = streams.register_stream(session=session, name="VOV1", url=feed.url, actor=admin)
    feed.stop()
    problem = streams.recheck_stream(session=session, stream=stream, actor=admin)
    assert problem is not None and problem.code == "stream_unreachable"
    assert not stream.check_ok and "connect" in stream.check_detail
    with pytest.raises(streams.StreamError) as refused:
        streams.approve_stream(session=session, stream=stream, actor=approver)
    assert refused.value.code == "stream_check_failed"
    feed.start()
    assert streams.recheck_stream(session=session, stream=stream, actor=admin) is None
    streams.approve_stream(session=session, stream=stream, actor=approver)
    assert stream.status == "approved"


def test_rejecting_needs_a_comment_and_retiring_switches_its_relays_off(session):
    approver = support.user(session, "approver")
    stream = StreamSource(name="VOV1", url="http://127.0.0.1:1/x.mp3", check_ok=True)
    draft = StreamSource(name="VOH", url="http://127.0.0.1:1/y.mp3", check_ok=True)
    session.add_all([stream, draft])
    session.flush()
    with pytest.raises(streams.StreamError) as silent:
        streams.reject_stream(session=session, stream=draft, actor=approver, comment="  ")
    assert silent.value.code == "comment_required"
    streams.reject_stream(session=session, stream=draft, actor=approver, comment="Không rõ nguồn")
    assert (draft.status, draft.review_comment) == ("rejected", "Không rõ nguồn")
    streams.approve_stream(session=session, stream=stream, actor=approver)
    assert [s.name for s in streams.approved_streams(session)] == ["VOV1"]
    schedule = save_schedule(
        session=session,
        data=ScheduleInput(
            name="Tiếp sóng VOV1",
            script=None,
            stream=stream,
            duration_min=60,
            kind="weekly",
            weekdays=[0],
            times=["05:00"],
            targets_all=True,
        ),
        actor=approver,
    )
    assert streams.retire_stream(session=session, stream=stream, actor=approver) == 1
    assert session.get(Schedule, schedule.id).is_active is False
    assert streams.approved_streams(session) == []
    with pytest.raises(streams.StreamError) as retired:
        streams.edit_stream(
            session=session,
            stream=stream,
            name="VOV1",
            url=stream.url,
            actor=support.user(session, "admin"),
        )
    assert retired.value.code == "stream_retired"
