"""Commands from the province, on the server: who may send them, delivery, results, expiry."""

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AuditEntry, CommandState, Station, StationCommand
from broadcaster.stations import commands
from broadcaster.stations.commands import CommandError
from broadcaster.stations.schemas import ApiError
from broadcaster.stations.tokens import StationRef
from tests import stationapi_support as support

OWN = "HUE-THUAN-AN"


def ref(station: Station) -> StationRef:
    return StationRef(id=station.id, code=station.code, name=station.name, timezone="UTC")


def send(session, kind, args=None, who="admin", code=OWN, now=None):
    command = commands.send_command(
        session,
        station=support.station(session, code),
        kind=kind,
        args=args,
        actor=support.user(session, who),
        now=now or utcnow(),
    )
    session.commit()
    return command


def audit_of(session, command_id):
    return [
        (e.action, json.loads(e.after or "{}"))
        for e in session.exec(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "stationcommand")
            .where(AuditEntry.entity_id == str(command_id))
            .order_by(AuditEntry.id)
        )
    ]


@pytest.mark.parametrize("who", ["approver", "editor", "operator"])
def test_only_an_admin_may_send_a_command(session, who):
    with pytest.raises(CommandError) as refused:
        send(session, "sync", who=who)
    assert refused.value.code == "not_allowed"


@pytest.mark.parametrize(
    ("kind", "args", "code"),
    [
        ("play_file", {"path": "/etc/passwd"}, "unknown_command"),
        ("set_volume", {"percent": 101}, "bad_volume"),
        ("set_volume", {"percent": True}, "bad_volume"),
        ("set_volume", {}, "bad_volume"),
        ("amplifier", {"on": "yes"}, "bad_switch"),
    ],
)
def test_a_command_it_cannot_take_is_refused_with_a_code(session, kind, args, code):
    with pytest.raises(CommandError) as refused:
        send(session, kind, args)
    assert refused.value.code == code
    assert session.exec(select(StationCommand)).all() == []


def test_only_the_arguments_a_kind_takes_are_kept(session):
    command = send(session, "test_tone", {"url": "http://example.invalid/x.mp3"})
    assert json.loads(command.args) == {}
    assert json.loads(send(session, "set_volume", {"percent": "80"}).args) == {"percent": 80}


def test_a_station_without_an_agent_takes_no_command(session):
    manual = session.exec(select(Station).where(Station.mode != "agent")).first()
    with pytest.raises(CommandError) as refused:
        send(session, "sync", code=manual.code)
    assert refused.value.code == "no_agent"


def test_pending_commands_are_delivered_until_reported_and_the_result_kept_once(session, engine):
    station = support.station(session, OWN)
    command = send(session, "set_volume", {"percent": 40})
    now = utcnow()
    first = commands.pending_for(engine, station.id, now=now)
    again = commands.pending_for(engine, station.id, now=now)  # the answer was lost
    assert [c["id"] for c in first] == [c["id"] for c in again] == [command.id]
    assert first[0]["kind"] == "set_volume" and first[0]["args"] == {"percent": 40}
    session.expire_all()
    assert session.get(StationCommand, command.id).state == CommandState.SENT
    report = {"state": "done", "result": "volume 40%"}
    answer = commands.record_result(session, ref(station), command.id, report, now=now)
    session.commit()
    retried = commands.record_result(
        session, ref(station), command.id, {"state": "failed", "result": "x"}, now=now
    )
    session.commit()
    assert answer["duplicate"] is False and retried == {
        "id": command.id,
        "state": "done",
        "duplicate": True,
    }
    assert commands.pending_for(engine, station.id, now=now) == []
    session.expire_all()
    stored = session.get(StationCommand, command.id)
    assert (stored.state, stored.result) == ("done", "volume 40%")
    assert [action for action, _ in audit_of(session, command.id)] == [
        "send_command",
        "command_result",
    ]


def test_another_stations_command_is_not_found(session):
    command = send(session, "sync")
    other = support.station(session, "HUE-KIM-LONG")
    with pytest.raises(ApiError) as refused:
        commands.record_result(session, ref(other), command.id, {"state": "done"}, now=utcnow())
    assert refused.value.status == 404
    with pytest.raises(ApiError) as refused:
        commands.record_result(session, ref(other), 2**40, {"state": "done"}, now=utcnow())
    assert refused.value.status == 404


def test_a_command_nobody_picked_up_in_time_expires_and_is_not_delivered(session, engine):
    station = support.station(session, OWN)
    old = send(session, "restart", now=utcnow() - commands.COMMAND_TTL - timedelta(minutes=1))
    fresh = send(session, "sync")
    delivered = commands.pending_for(engine, station.id, now=utcnow())
    assert [c["id"] for c in delivered] == [fresh.id]
    session.expire_all()
    assert session.get(StationCommand, old.id).state == CommandState.EXPIRED
    assert [a for a, _ in audit_of(session, old.id)] == ["send_command", "command_expired"]


def test_a_command_wakes_the_stations_held_connection_only_once_committed(session):
    from sqlalchemy import text

    def wakes():
        return session.execute(
            text("SELECT station_id FROM manifestchange WHERE topic = 'commands'")
        ).all()

    before = len(wakes())
    commands.send_command(
        session,
        station=support.station(session, OWN),
        kind="sync",
        actor=support.user(session, "admin"),
        now=utcnow(),
    )
    session.rollback()  # an admin's request that failed after queueing: nothing is heard
    assert len(wakes()) == before
    command = send(session, "sync")
    session.commit()
    assert wakes()[-1] == (command.station_id,)


def test_heartbeats_look_for_commands_only_of_stations_that_have_some(session, engine):
    station = support.station(session, OWN)
    clock = [0.0]
    open_commands = commands.OpenCommands(engine, refresh_s=0.5, clock=lambda: clock[0])
    assert open_commands.pending(station.id, now=utcnow()) == []  # read: nothing open
    command = send(session, "sync")
    clock[0] = 0.4
    assert open_commands.pending(station.id, now=utcnow()) == []  # not re-read yet
    clock[0] = 0.5
    assert [c["id"] for c in open_commands.pending(station.id, now=utcnow())] == [command.id]
    other = support.station(session, "HUE-KIM-LONG")
    assert open_commands.pending(other.id, now=utcnow()) == []
