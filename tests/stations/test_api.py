"""The station API's core: tokens, the manifest (both query paths), events, heartbeats."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from broadcaster.core import db
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AuditEntry, Occurrence, OccurrenceStatus, PlayEvent, StationBeat
from broadcaster.onair import occurrences as onair
from broadcaster.stations import api as stationapi
from broadcaster.stations import manifest as stationmanifest
from broadcaster.stations.agent import runner as agent
from broadcaster.stations.api import ApiError, StationRef
from broadcaster.stations.registry import StationError
from tests import stationapi_support as support

OWN = "HUE-THUAN-AN"
OTHER = "HUE-PHU-XUAN"


@pytest.fixture(scope="module")
def on_air(tmp_path_factory, databases, demo_template):
    facts = {}

    def prepare(session, settings):
        support.put_on_air(session, settings, utcnow())
        for code in (OWN, OTHER):
            facts[code] = stationapi.rotate_token(session, support.station(session, code))

    template = support.make_template(
        databases, tmp_path_factory.mktemp("core-on-air"), demo_template.url, prepare
    )
    return template, facts


@pytest.fixture
def tokens(on_air):
    return on_air[1]


@pytest.fixture
def core(tmp_path, on_air):
    settings = on_air[0].copy_to(tmp_path / "site")
    engine = db.make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(core):
    with Session(core, expire_on_commit=False) as session:
        yield session


def ref(session, code):
    station = support.station(session, code)
    return StationRef(station.id, station.code, station.name, station.timezone)


def an_event(occurrence_id, kind="started", at=None, uid=None, detail=""):
    return {
        "id": uid or str(uuid.uuid4()),
        "occurrence_id": occurrence_id,
        "kind": kind,
        "at": (at or utcnow()).isoformat(),
        "detail": detail,
    }


# --- tokens ----------------------------------------------------------------------------


def test_a_station_is_created_with_a_token_of_which_only_the_hash_is_kept(session):
    station, token = stationapi.create_station_with_token(
        session, "hue-test-1", "Phường Thuận Hóa", "agent", "Asia/Ho_Chi_Minh", None
    )
    session.commit()
    assert station.code == "HUE-TEST-1" and len(token) >= 43
    assert station.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert station.token_created_at is not None
    assert stationapi.station_for_token(session, token).code == "HUE-TEST-1"
    audit = session.exec(select(AuditEntry).where(AuditEntry.entity_id == "HUE-TEST-1")).all()
    assert {a.action for a in audit} == {"create", "issue_token"}
    logged = json.dumps([(a.before, a.after) for a in audit])
    assert token not in logged and station.token_hash not in logged


def test_creating_a_station_checks_its_input(session):
    with pytest.raises(StationError):
        stationapi.create_station_with_token(
            session, "HUE-X", "Phường Thuận Hóa", "radio", "Asia/Ho_Chi_Minh", None
        )
    with pytest.raises(ValueError, match="no area"):
        stationapi.create_station_with_token(
            session, "HUE-X", "Xã Không Có", "agent", "Asia/Ho_Chi_Minh", None
        )


def test_rotating_replaces_the_token_and_revoking_leaves_none(session, tokens):
    station = support.station(session, OWN)
    new = stationapi.rotate_token(session, station)
    assert new != tokens[OWN]
    assert stationapi.station_for_token(session, tokens[OWN]) is None
    assert stationapi.station_for_token(session, new).id == station.id
    assert stationapi.revoke_token(session, station) is True
    assert stationapi.station_for_token(session, new) is None
    assert station.token_hash == "" and station.token_created_at is None
    assert stationapi.revoke_token(session, station) is False
    assert stationapi.station_for_token(session, "") is None  # never matches an empty hash


def test_tokens_are_random_and_long(session):
    assert len({stationapi.new_token() for _ in range(100)}) == 100
    assert all(len(stationapi.new_token()) >= 43 for _ in range(10))
    # `--token TOKEN` on the agent's command line must never read as an option.
    assert not any(stationapi.new_token().startswith("-") for _ in range(2000))


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("Bearer", None),
        ("Token abc", None),
        ("", None),
        (None, None),
        ("Bearer " + "x" * 257, None),
    ],
)
def test_the_bearer_header_is_parsed_strictly(header, token):
    assert stationapi.parse_bearer(header) == token


# --- manifest ---------------------------------------------------------------------------


def test_the_one_statement_path_and_the_core_path_give_the_same_manifest(core, session, tokens):
    now = utcnow()
    station = ref(session, OWN)
    with Session(core) as fresh:  # no transaction yet: the one-statement path
        fast = stationapi.manifest_for_token(fresh, tokens[OWN], now=now)
    window = {
        "station_id": station.id,
        "start": now - onair.GRACE,
        "end": now + timedelta(hours=48),
    }
    core_rows = [tuple(r) for r in session.connection().execute(stationmanifest._MANIFEST, window)]
    through_core = stationmanifest._manifest(station, core_rows)
    in_transaction = stationapi.build_manifest(session, station, now=now)
    from_engine = stationapi.manifest_for_token(core, tokens[OWN], now=now)
    assert len(fast.body["items"]) >= 4
    assert fast.body == through_core.body == in_transaction.body == from_engine.body
    assert fast.etag == through_core.etag == in_transaction.etag == from_engine.etag


def test_the_manifest_follows_priority_and_time_order(session, tokens):
    station = ref(session, OWN)
    schedule = support.schedule_for(session, support.DAILY, [OWN], priority=2)
    first = stationapi.build_manifest(session, station, now=utcnow())
    slot = session.get(Occurrence, first.body["items"][0]["occurrence_id"])
    emergency = Occurrence(
        schedule_id=schedule.id,
        station_id=station.id,
        at=slot.at,
        priority=2,
        version_id=slot.version_id,
        audio_id=slot.audio_id,
        status=OccurrenceStatus.RENDERED,
    )
    session.add(emergency)
    session.commit()
    with Session(session.get_bind()) as fresh:
        items = stationapi.manifest_for_token(fresh, tokens[OWN], now=utcnow()).body["items"]
    assert items[0]["occurrence_id"] == emergency.id and items[0]["priority"] == "emergency"
    assert items[1]["occurrence_id"] == slot.id


def test_an_unknown_token_has_no_manifest(core):
    with Session(core) as fresh:
        assert stationapi.manifest_for_token(fresh, "nope", now=utcnow()) is None
        assert stationapi.manifest_for_token(fresh, None, now=utcnow()) is None


def test_plays_past_the_grace_window_or_beyond_48_hours_are_not_listed(session):
    station = ref(session, OWN)
    occurrences = session.exec(
        select(Occurrence).where(Occurrence.station_id == station.id).order_by(Occurrence.at)
    ).all()
    first = occurrences[0]
    at_first = stationapi.build_manifest(session, station, now=first.at + timedelta(minutes=9))
    assert first.id in {i["occurrence_id"] for i in at_first.body["items"]}
    later = stationapi.build_manifest(session, station, now=first.at + timedelta(minutes=11))
    assert first.id not in {i["occurrence_id"] for i in later.body["items"]}
    early = stationapi.build_manifest(session, station, now=first.at - timedelta(hours=49))
    assert early.body["items"] == []


def test_only_audio_in_the_stations_manifest_is_given_out(session):
    own, other = ref(session, OWN), ref(session, OTHER)
    now = utcnow()
    item = stationapi.build_manifest(session, own, now=now).body["items"][0]
    assert stationapi.audio_for_station(session, own, item["sha256"], now=now) is not None
    assert stationapi.audio_for_station(session, own, "0" * 64, now=now) is None
    assert stationapi.audio_for_station(session, own, "../../etc/passwd", now=now) is None
    # The daily reminder has no station variables: every station shares its audio.
    assert stationapi.audio_for_station(session, other, item["sha256"], now=now) is not None
    later = now + timedelta(days=3)
    assert stationapi.audio_for_station(session, own, item["sha256"], now=later) is None


# --- events -----------------------------------------------------------------------------


def first_item(session, code=OWN):
    return stationapi.build_manifest(session, ref(session, code), now=utcnow()).body["items"][0]


def test_a_started_event_never_takes_a_finished_play_back(session):
    station = ref(session, OWN)
    occurrence_id = first_item(session)["occurrence_id"]
    batch = [an_event(occurrence_id, "started"), an_event(occurrence_id, "finished")]
    stationapi.ingest_events(session, station, {"events": batch}, now=utcnow())
    late_start = an_event(occurrence_id, "started")
    result = stationapi.ingest_events(session, station, {"events": [late_start]}, now=utcnow())
    assert result["accepted"] == 1
    assert session.get(Occurrence, occurrence_id).status == OccurrenceStatus.PLAYED
    stored = session.exec(select(PlayEvent).where(PlayEvent.uid == late_start["id"])).one()
    assert stored.kind == "started" and stored.occurrence_id == occurrence_id


def test_failed_and_interrupted_plays_keep_their_reason(session):
    station = ref(session, OWN)
    items = stationapi.build_manifest(session, station, now=utcnow()).body["items"]
    failed, cut = items[0]["occurrence_id"], items[1]["occurrence_id"]
    batch = [
        an_event(failed, "started"),
        an_event(failed, "failed", detail="ffplay failed: no sound card"),
        an_event(cut, "started"),
        an_event(cut, "interrupted", detail="interrupted by an emergency broadcast"),
    ]
    assert (
        stationapi.ingest_events(session, station, {"events": batch}, now=utcnow())["accepted"] == 4
    )
    assert session.get(Occurrence, failed).status == OccurrenceStatus.FAILED
    assert session.get(Occurrence, failed).reason == "ffplay failed: no sound card"
    assert session.get(Occurrence, cut).status == OccurrenceStatus.SKIPPED
    uids = {e["id"] for e in batch}
    stored = session.exec(select(PlayEvent).where(PlayEvent.uid.in_(uids))).all()
    assert len(stored) == 4 and {e.actor for e in stored} == {f"agent:{OWN}"}


def test_an_agent_report_overrides_a_miss_logged_while_it_was_offline(session):
    station = ref(session, OWN)
    occurrence = session.get(Occurrence, first_item(session)["occurrence_id"])
    occurrence.status = OccurrenceStatus.MISSED
    session.add(occurrence)
    started = an_event(occurrence.id, "started", at=occurrence.at + timedelta(seconds=1))
    finished = an_event(occurrence.id, "finished", at=occurrence.at + timedelta(seconds=80))
    stationapi.ingest_events(session, station, {"events": [started, finished]}, now=utcnow())
    assert occurrence.status == OccurrenceStatus.PLAYED and occurrence.late is False


def test_an_event_id_used_by_another_station_is_a_conflict(session):
    uid = str(uuid.uuid4())
    other_item = first_item(session, OTHER)
    stationapi.ingest_events(
        session,
        ref(session, OTHER),
        {"events": [an_event(other_item["occurrence_id"], uid=uid)]},
        now=utcnow(),
    )
    with pytest.raises(ApiError) as error:
        stationapi.ingest_events(
            session,
            ref(session, OWN),
            {"events": [an_event(first_item(session)["occurrence_id"], uid=uid)]},
            now=utcnow(),
        )
    assert error.value.status == 409


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-30T06:00:00",
        "2026-11-30",
        "tomorrow",
        "",
        12,
        None,
        "9999-12-31T23:59:59-14:00",
        "2026-11-30T06:00:00+07:00" + "0" * 100,
    ],
)
def test_instants_need_an_offset_and_must_fit(value):
    with pytest.raises(ApiError) as error:
        stationapi.parse_instant(value, "at")
    assert error.value.status == 422


def test_instants_with_offsets_become_utc():
    parsed = stationapi.parse_instant("2026-11-30T06:00:00+07:00", "at")
    assert parsed == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    assert stationapi.parse_instant("2026-11-29T23:00:00Z", "at") == parsed


def test_bodies_larger_than_a_megabyte_or_not_json_are_refused():
    with pytest.raises(ApiError) as too_big:
        stationapi.parse_json(b" " * (stationapi.MAX_BODY_BYTES + 1))
    assert too_big.value.status == 413
    for raw in (b"{", b"[" * 50_000, "é".encode("latin-1"), b"\x00"):
        with pytest.raises(ApiError) as error:
            stationapi.parse_json(raw)
        assert error.value.status == 400


# --- heartbeat ----------------------------------------------------------------------------


def test_a_heartbeat_is_an_upsert(session):
    station = ref(session, OWN)
    now = utcnow()
    stationapi.record_heartbeat(session, station, {"version": "1", "player_state": "idle"}, now=now)
    stationapi.record_heartbeat(
        session, station, {"version": "2", "free_disk_mb": None, "last_sync": None}, now=now
    )
    beats = session.exec(select(StationBeat)).all()
    assert len(beats) == 1 and beats[0].version == "2" and beats[0].player_state == ""


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"version": None},
        {"version": 3},
        {"free_disk_mb": -1},
        {"free_disk_mb": 1.5},
        {"cache_files": True},
        {"player_state": "x" * 33},
        {"last_sync": "yesterday"},
    ],
)
def test_a_malformed_heartbeat_is_refused(session, payload):
    with pytest.raises(ApiError) as error:
        stationapi.record_heartbeat(session, ref(session, OWN), payload, now=utcnow())
    assert error.value.status == 422


# --- agreement with the rest --------------------------------------------------------------


def test_the_agent_uses_the_same_grace_window_as_the_server():
    assert agent.GRACE == onair.GRACE


def test_the_openapi_document_is_valid_json_with_every_schema_referenced():
    document = stationapi.openapi_document()
    text = json.dumps(document)
    for name in document["components"]["schemas"]:
        if name != "Error":
            assert f"#/components/schemas/{name}" in text, name


def test_migration_0007_keeps_existing_stations_and_goes_back_down(blank_database_url):
    import sqlalchemy as sa
    from alembic import command

    from broadcaster.core.dbtypes import UTCDateTime

    url = blank_database_url
    db.upgrade(url, "0006")
    columns = ("id", "code", "name", "kind", "division_type")
    area = sa.table("area", *(sa.column(c) for c in columns))
    station = sa.table(
        "station",
        *(sa.column(c) for c in ("code", "name", "area_id", "timezone", "mode", "is_active")),
        sa.column("created_at", UTCDateTime()),
    )
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            area.insert().values(id=1, code="C", name="C", kind="commune", division_type="")
        )
        connection.execute(
            station.insert().values(
                code="S-1",
                name="S",
                area_id=1,
                timezone="Asia/Ho_Chi_Minh",
                mode="agent",
                is_active=True,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    engine.dispose()
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT code, token_hash FROM station")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("S-1", "")]
    command.downgrade(db.alembic_config(url), "0006")
    engine = db.make_engine(url)
    inspector = sa.inspect(engine)
    columns = {column["name"] for column in inspector.get_columns("station")}
    tables = set(inspector.get_table_names())
    engine.dispose()
    assert "token_hash" not in columns and "stationbeat" not in tables


def test_the_openapi_document_states_the_limits_the_api_checks():
    components = stationapi.openapi_document()["components"]["schemas"]
    event, beat = components["Event"]["properties"], components["Heartbeat"]["properties"]
    assert components["EventBatch"]["properties"]["events"]["maxItems"] == stationapi.MAX_EVENTS
    assert event["detail"]["maxLength"] == stationapi.MAX_DETAIL
    assert event["occurrence_id"]["maximum"] == stationapi.MAX_ID
    assert beat["player_state"]["maxLength"] == 32 and beat["free_disk_mb"]["nullable"]
    fits = an_event(1, detail="x" * stationapi.MAX_DETAIL)
    assert stationapi.parse_events({"events": [fits] * stationapi.MAX_EVENTS})
    for refused in (
        {"events": [fits] * (stationapi.MAX_EVENTS + 1)},
        {"events": [{**fits, "detail": "x" * (stationapi.MAX_DETAIL + 1)}]},
        {"events": [{**fits, "occurrence_id": stationapi.MAX_ID + 1}]},
    ):
        with pytest.raises(ApiError) as error:
            stationapi.parse_events(refused)
        assert error.value.status == 422


def test_a_refused_event_is_named_in_english_and_nul_is_replaced():
    with pytest.raises(ApiError) as error:
        stationapi.parse_events({"events": [an_event(1), {**an_event(1), "kind": "exploded"}]})
    assert error.value.message.startswith("events[1].kind: ")
    assert "started" in error.value.message
    (parsed,) = stationapi.parse_events({"events": [an_event(1, detail="lỗi\x00")]})
    assert parsed.detail == "lỗi\ufffd" and parsed.at.tzinfo is not None
