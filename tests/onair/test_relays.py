"""Relay schedules: a stream instead of a script, planned, materialized and in the manifest."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    Schedule,
    StreamSource,
    StreamStatus,
)
from broadcaster.onair import occurrences as onair
from broadcaster.onair.schedules import ScheduleError, ScheduleInput, plan, save_schedule
from broadcaster.stations import api as stationapi
from broadcaster.stations import manifest as stationmanifest
from broadcaster.stations.agent.plan import parse_manifest
from broadcaster.stations.api import StationRef
from tests import stationapi_support as support

CODE = "HUE-THUAN-AN"


def a_stream(session: Session, *, status=StreamStatus.APPROVED, name="VOV1") -> StreamSource:
    """A stream as the review leaves it (registering one is tested in test_streams.py,
    against a real Icecast)."""
    stream = StreamSource(
        name=name, url=f"http://127.0.0.1:8000/{name.lower()}.mp3", status=status, check_ok=True
    )
    session.add(stream)
    session.flush()
    return stream


def relay_input(session, source, *, fallback=None, **changes) -> ScheduleInput:
    values = dict(
        name=f"Tiếp sóng {source.name}",
        script=None,
        stream=source,
        duration_min=30,
        fallback_script=fallback,
        kind="weekly",
        weekdays=list(range(7)),
        times=["05:30"],
        station_ids=[support.station(session, CODE).id],
    )
    values.update(changes)
    return ScheduleInput(**values)


def save_relay(session, stream, **changes) -> Schedule:
    return save_schedule(
        session=session,
        data=relay_input(session, stream, **changes),
        actor=support.user(session, "approver"),
    )


def manifest_of(session, code=CODE, *, now):
    station = support.station(session, code)
    ref = StationRef(station.id, station.code, station.name, station.timezone)
    return stationapi.build_manifest(session, ref, now=now)


def test_a_schedule_plays_a_script_or_a_stream_never_both_nor_neither(session):
    stream = a_stream(session)
    script = support.approved(session, support.DAILY)
    for script_, stream_ in ((script, stream), (None, None)):
        with pytest.raises(ScheduleError) as refused:
            save_schedule(
                session=session,
                data=relay_input(session, stream, script=script_, stream=stream_),
                actor=support.user(session, "approver"),
            )
        assert refused.value.code == "script_or_stream"


@pytest.mark.parametrize(
    ("status", "changes", "code"),
    [
        (StreamStatus.DRAFT, {}, "stream_not_approved"),
        (StreamStatus.RETIRED, {}, "stream_not_approved"),
        (StreamStatus.APPROVED, {"duration_min": 0}, "bad_relay_duration"),
        (StreamStatus.APPROVED, {"duration_min": None}, "bad_relay_duration"),
        (StreamStatus.APPROVED, {"repeat": 2}, "relay_repeat"),
    ],
)
def test_a_relay_of_an_unapproved_stream_or_without_a_length_is_refused(
    session, status, changes, code
):
    stream = a_stream(session, status=status)
    with pytest.raises(ScheduleError) as refused:
        save_relay(session, stream, **changes)
    assert refused.value.code == code


def test_a_fallback_must_be_an_approved_script(session):
    from broadcaster.core.models import Script

    unapproved = session.exec(select(Script).where(Script.slug == support.HOW_TO)).one()
    with pytest.raises(ScheduleError) as refused:
        save_relay(session, a_stream(session), fallback=unapproved)
    assert refused.value.code == "fallback_not_approved"


def test_a_daily_relay_is_planned_without_rendering_and_reaches_the_manifest(session, settings):
    now = utcnow()
    stream = a_stream(session)
    schedule = save_relay(session, stream, times=[(now + timedelta(hours=1)).strftime("%H:%M")])
    plays = plan(session, now, now + timedelta(hours=48), schedule_ids=[schedule.id])
    assert len(plays) == 2 and all(p.stream.id == stream.id and p.version is None for p in plays)
    onair.materialize(session, now=now, hours=48)
    assert onair.render_due(session, settings, now=now, hours=48) >= 0
    assert schedule.id not in {
        session.get(Occurrence, i).schedule_id
        for i in onair.pending_audio(session, now=now, hours=48)
    }, "a relay without fallback has nothing to render and must not wait in the queue"
    relays = [i for i in manifest_of(session, now=now).body["items"] if i["kind"] == "relay"]
    assert len(relays) == 2
    assert relays[0] | {"occurrence_id": 0, "at": ""} == {
        "occurrence_id": 0,
        "at": "",
        "schedule_id": schedule.id,
        "priority": "normal",
        "title": "VOV1",
        "kind": "relay",
        "stream": {"id": stream.id, "name": "VOV1", "url": stream.url, "kind": "mp3"},
        "duration_s": 1800,
        "fallback": None,
        "order": 2,  # a commune's own schedule, in the province's default order
    }


def test_the_fallback_is_rendered_ahead_and_the_agent_caches_it_like_any_audio(session, settings):
    now = utcnow()
    fallback = support.approved(session, support.DAILY)
    schedule = save_relay(
        session,
        a_stream(session),
        fallback=fallback,
        times=[(now + timedelta(hours=2)).strftime("%H:%M")],
    )
    onair.materialize(session, now=now, hours=48, schedule_ids=[schedule.id])
    onair.render_due(session, settings, now=now, hours=48)
    document = manifest_of(session, now=now).document(now)
    (relay, *_) = [i for i in document["items"] if i["schedule_id"] == schedule.id]
    assert relay["fallback"]["sha256"] and relay["fallback"]["size"] > 0
    assert relay["fallback"]["audio_url"] == f"/api/v1/audio/{relay['fallback']['sha256']}.mp3"
    station = stationapi.station_for_token(
        session, stationapi.rotate_token(session, support.station(session, CODE))
    )
    assert stationapi.audio_for_station(session, station, relay["fallback"]["sha256"], now=now)
    item = parse_manifest(document)[relay["occurrence_id"]]
    assert item.is_relay and item.stream_url == relay["stream"]["url"]
    assert (item.sha256, item.size, item.duration_s) == (
        relay["fallback"]["sha256"],
        relay["fallback"]["size"],
        1800,
    )
    assert item.fallback is not None and item.fallback.sha256 == item.sha256


def test_a_relays_fallback_stays_fetchable_while_it_is_on_air_and_not_after(session, settings):
    # An agent whose fetch failed before the start fetches it during the slot (a drop
    # may come at any moment); once the relay has ended, the audio is off limits again.
    now = utcnow()
    schedule = save_relay(
        session,
        a_stream(session),
        fallback=support.approved(session, support.DAILY),
        times=[(now + timedelta(hours=2)).strftime("%H:%M")],
    )
    onair.materialize(session, now=now, hours=48, schedule_ids=[schedule.id])
    onair.render_due(session, settings, now=now, hours=48)
    station = stationapi.station_for_token(
        session, stationapi.rotate_token(session, support.station(session, CODE))
    )
    relay, *later = session.exec(
        select(Occurrence).where(Occurrence.schedule_id == schedule.id).order_by(Occurrence.at)
    ).all()
    for other in later:  # the next days' plays of the same fallback are not this one
        other.status = OccurrenceStatus.SKIPPED
        session.add(other)
    sha = session.get(AudioFile, relay.audio_id).sha256
    during = relay.at + timedelta(minutes=20)  # past the grace window, inside the slot
    assert stationapi.audio_for_station(session, station, sha, now=during) is None
    relay.status = OccurrenceStatus.PLAYING
    session.add(relay)
    session.flush()
    assert stationapi.audio_for_station(session, station, sha, now=during)
    relay.status = OccurrenceStatus.PLAYED
    session.add(relay)
    session.flush()
    assert stationapi.audio_for_station(session, station, sha, now=during) is None


def test_a_stream_retired_or_sent_back_to_review_leaves_the_manifest_at_once(session, settings):
    now = utcnow()
    stream = a_stream(session)
    fallback = support.approved(session, support.DAILY)
    schedule = save_relay(
        session, stream, fallback=fallback, times=[(now + timedelta(hours=3)).strftime("%H:%M")]
    )
    onair.materialize(session, now=now, hours=48, schedule_ids=[schedule.id])
    onair.render_due(session, settings, now=now, hours=48)
    station = stationapi.station_for_token(
        session, stationapi.rotate_token(session, support.station(session, CODE))
    )
    sha = next(
        i["fallback"]["sha256"]
        for i in manifest_of(session, now=now).body["items"]
        if i["schedule_id"] == schedule.id
    )
    for status in (StreamStatus.DRAFT, StreamStatus.RETIRED):
        stream.status = status  # occurrences stay; the manifest checks the stream itself
        session.add(stream)
        session.flush()
        items = manifest_of(session, now=now).body["items"]
        assert schedule.id not in {i["schedule_id"] for i in items}, status
        assert stationapi.audio_for_station(session, station, sha, now=now) is None
        assert not plan(session, now, now + timedelta(hours=48), schedule_ids=[schedule.id])


def test_both_manifest_paths_agree_on_relays_and_files(session, settings, engine):
    now = utcnow()
    support.put_on_air(session, settings, now)
    save_relay(
        session,
        a_stream(session),
        fallback=support.approved(session, support.DAILY),
        times=[(now + timedelta(hours=1)).strftime("%H:%M")],
    )
    save_relay(session, a_stream(session, name="VOH"), times=["07:00"])
    onair.materialize(session, now=now, hours=48)
    onair.render_due(session, settings, now=now, hours=48)
    token = stationapi.rotate_token(session, support.station(session, CODE))
    session.commit()
    built = manifest_of(session, now=now)
    with Session(engine) as fresh:
        fast = stationapi.manifest_for_token(fresh, token, now=now)
    kinds = [i["kind"] for i in built.body["items"]]
    assert kinds.count("relay") == 4 and kinds.count("audio") >= 2
    assert fast.body == built.body and fast.etag == built.etag
    assert all(i["version"] >= 1 for i in built.body["items"] if i["kind"] == "audio")
    window = {
        "station_id": built.station_id,
        "start": now - onair.GRACE,
        "end": now + timedelta(hours=48),
    }
    rows = [tuple(r) for r in session.connection().execute(stationmanifest._MANIFEST, window)]
    assert stationmanifest._manifest(ref_of(session), rows).body == built.body


def ref_of(session):
    station = support.station(session, CODE)
    return StationRef(station.id, station.code, station.name, station.timezone)


def test_a_script_less_schedule_survives_the_calendar_and_the_miss_sweep(session, settings):
    from broadcaster.onair.calendar import calendar_rows

    now = utcnow()
    past = now - timedelta(minutes=20)
    stream = a_stream(session)
    local = past.astimezone(ZoneInfo(support.station(session, CODE).timezone))
    schedule = save_relay(session, stream, times=[local.strftime("%H:%M")])
    onair.materialize(session, now=past, hours=1, schedule_ids=[schedule.id])
    assert onair.sweep(session, now=now) >= 1
    missed = session.exec(select(Occurrence).where(Occurrence.schedule_id == schedule.id)).all()
    assert [o.status for o in missed] == ["missed"] and missed[0].reason
    station = support.station(session, CODE)
    rows = calendar_rows(
        session, [station], now - timedelta(hours=1), now + timedelta(days=1), now=now
    )
    relay_rows = [r for r in rows if r.schedule_id == schedule.id]
    assert {(r.script_title, r.relay) for r in relay_rows} == {("VOV1", True)}
    assert {r.status for r in relay_rows} == {"missed", "upcoming"}
    from broadcaster.accountability.reports import compliance

    local_day = local.date()
    (day,) = [
        d
        for d in compliance(session, first=local_day, last=local_day)
        if d.station.id == station.id
    ]
    assert "VOV1" in [title for _at, title, _reason in day.misses], day.misses


RELAY_YAML = """
schedules:
  - name: Tiếp sóng VOV1 buổi sáng
    relay: VOV1
    minutes: 45
    fallback: bluezone-nhac-nho-hang-ngay
    days: daily
    times: ["05:30"]
    targets:
      stations: [HUE-THUAN-AN]
"""


def test_a_relay_round_trips_through_a_yaml_schedule_file(session):
    from broadcaster.onair.schedulefiles import export_yaml, import_yaml

    stream = a_stream(session)
    support.approved(session, support.DAILY)
    (schedule,) = import_yaml(session, RELAY_YAML)
    assert (schedule.stream_id, schedule.duration_min, schedule.script_id) == (stream.id, 45, None)
    exported = export_yaml(session)
    assert "relay: VOV1" in exported and "minutes: 45" in exported
    assert "fallback: bluezone-nhac-nho-hang-ngay" in exported
    (again,) = [s for s in import_yaml(session, exported) if s.stream_id]
    assert again.id == schedule.id  # matched by name: updated, not copied
    for broken, words in (
        (RELAY_YAML.replace("relay: VOV1", "relay: VOH"), "unknown stream 'VOH'"),
        (RELAY_YAML.replace("    minutes: 45\n", ""), "between 1 and"),
        (RELAY_YAML.replace("relay: VOV1", "script: bluezone-cach-cai-dat"), "'fallback'"),
    ):
        with pytest.raises(ScheduleError, match=words):
            import_yaml(session, broken)


def test_migrations_keep_schedules_plays_and_targets_and_go_back_down(
    blank_database_url,
):
    import sqlalchemy as sa
    from alembic import command

    from broadcaster.core import db

    url = blank_database_url
    db.upgrade(url, "0010")
    engine = db.make_engine(url)
    stamp = "2026-12-01 00:00:00.000000"
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO area (id, code, name, kind, division_type) "
                "VALUES (1, 'C', 'C', 'commune', '')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO station (id, code, name, area_id, timezone, mode, is_active, "
                "created_at, token_hash) VALUES (1, 'S-1', 'S', 1, 'Asia/Ho_Chi_Minh', 'agent', "
                f"TRUE, '{stamp}', '')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO script (id, slug, title, tags, created_at, updated_at) "
                f"VALUES (1, 's', 'S', '', '{stamp}', '{stamp}')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO schedule (id, name, script_id, kind, weekdays, times, every_days, "
                "once_at, priority, repeat, targets_all, is_active, created_at, updated_at) "
                f"VALUES (1, 'x', 1, 'weekly', '0', '06:00', 1, '', 0, 1, FALSE, TRUE, '{stamp}', "
                f"'{stamp}')"
            )
        )
        connection.execute(
            sa.text("INSERT INTO scheduletarget (schedule_id, station_id) VALUES (1, 1)")
        )
        connection.execute(
            sa.text(
                "INSERT INTO occurrence (schedule_id, station_id, at, priority, status, late, "
                f"reason) VALUES (1, 1, '{stamp}', 0, 'played', FALSE, '')"
            )
        )
    engine.dispose()

    def counts():
        engine = db.make_engine(url)
        with engine.connect() as connection:
            found = tuple(
                connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar()
                for table in ("schedule", "scheduletarget", "occurrence")
            )
        engine.dispose()
        return found

    db.upgrade(url)
    assert counts() == (1, 1, 1), "rebuilding schedule must not cascade to its plays"
    command.downgrade(db.alembic_config(url), "0010")
    assert counts() == (1, 1, 1)
    engine = db.make_engine(url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert "streamsource" not in tables


def test_local_playout_reads_a_relay_only_while_its_stream_is_approved(session, settings):
    from broadcaster.onair.streams import relay_of

    now = utcnow()
    stream = a_stream(session)
    fallback = support.approved(session, support.DAILY)
    schedule = save_relay(session, stream, fallback=fallback)
    onair.materialize(session, now=now, hours=48, schedule_ids=[schedule.id])
    occurrence = session.exec(
        select(Occurrence).where(Occurrence.schedule_id == schedule.id)
    ).first()
    assert relay_of(session, occurrence).fallback is None  # not rendered yet: silence
    onair.render_due(session, settings, now=now, hours=48)
    session.refresh(occurrence)
    relay = relay_of(session, occurrence)
    assert (relay.url, relay.duration_s) == (stream.url, 1800)
    assert relay.fallback is not None and relay.fallback.id == occurrence.audio_id
    stream.status = StreamStatus.RETIRED
    session.add(stream)
    session.flush()
    assert relay_of(session, occurrence) is None


def test_the_agent_skips_relay_items_it_cannot_trust_and_keeps_the_rest():
    good = {
        "occurrence_id": 1,
        "at": "2026-12-02T05:30:00+07:00",
        "priority": "normal",
        "schedule_id": 3,
        "title": "VOV1",
        "kind": "relay",
        "stream": {"id": 1, "name": "VOV1", "url": "http://127.0.0.1:8000/vov1.mp3"},
        "duration_s": 1800,
        "fallback": None,
    }
    items = [
        good,
        {**good, "occurrence_id": 2, "stream": {**good["stream"], "url": "file:///etc/passwd"}},
        {**good, "occurrence_id": 3, "duration_s": 0},
        {**good, "occurrence_id": 4, "kind": "video"},
        {**good, "occurrence_id": 5, "fallback": {"sha256": "nope", "size": 1}},
    ]
    plays = parse_manifest({"items": items})
    assert list(plays) == [1]
    assert plays[1].is_relay and plays[1].sha256 == "" and plays[1].fallback is None
