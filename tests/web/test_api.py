"""The station API over HTTP: tokens, manifest, audio, events, heartbeat, OpenAPI."""

import hashlib
import json
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from broadcaster.core import db
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    Occurrence,
    OccurrenceStatus,
    PlayEvent,
    Station,
    StationBeat,
    StationCommand,
)
from broadcaster.stations.api import rotate_token
from tests import stationapi_support as support
from tests.helpers import wait_until

# Manifests are kept in each server process and dropped within manifestcache.POLL_S of a
# change (broadcaster/stations/manifestcache.py); the other endpoints read the database each time.
CHANGE_SEEN_S = 2

OWN = "HUE-THUAN-AN"
OTHER = "HUE-PHU-XUAN"


def _prepare(session, settings):
    now = utcnow()
    support.put_on_air(session, settings, now)
    # Audio only HUE-THUAN-AN's manifest refers to.
    how_to = support.schedule_for(session, support.HOW_TO, [OWN])
    exclusive = support.add_occurrence(session, settings, how_to, OWN, now + timedelta(hours=1))
    tokens = {code: rotate_token(session, support.station(session, code)) for code in (OWN, OTHER)}
    session.commit()
    return {"tokens": tokens, "exclusive": exclusive.id}


@pytest.fixture(scope="module")
def on_air(tmp_path_factory, databases, demo_template):
    facts = {}

    def prepare(session, settings):
        facts.update(_prepare(session, settings))

    template = support.make_template(
        databases, tmp_path_factory.mktemp("api-on-air"), demo_template.url, prepare
    )
    return template, facts


@pytest.fixture
def api_settings(tmp_path, on_air):
    template, _ = on_air
    return template.copy_to(tmp_path / "site")


@pytest.fixture
def api_app(api_settings):
    from web import create_app

    app = create_app({"SETTINGS": api_settings, "TESTING": True})
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def api(api_app):
    return api_app.test_client()


@pytest.fixture
def tokens(on_air):
    return on_air[1]["tokens"]


@pytest.fixture
def db_session(api_settings):
    engine = db.make_engine(api_settings.database_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def manifest(api, token, **headers):
    return api.get("/api/v1/manifest", headers={**bearer(token), **headers})


def event(occurrence_id, kind="started", at=None, **extra):
    return {
        "id": str(uuid.uuid4()),
        "occurrence_id": occurrence_id,
        "kind": kind,
        "at": (at or utcnow()).isoformat(),
        **extra,
    }


def fetch(api, url, **headers):
    """GET, read the body and close the response (audio responses hold an open file)."""
    response = api.get(url, headers=headers)
    response.get_data()
    response.close()
    return response


def post_events(api, token, events):
    return api.post("/api/v1/events", json={"events": events}, headers=bearer(token))


# --- manifest ---------------------------------------------------------------------------


def test_the_manifest_lists_the_stations_rendered_plays_for_48_hours(api, tokens, db_session):
    response = manifest(api, tokens[OWN])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"]
    document = response.get_json()
    assert document["station"]["code"] == OWN and document["grace_s"] == 600
    items = document["items"]
    assert len(items) >= 4  # 06:00 and 17:00 for two days, and the exclusive play
    own_id = support.station(db_session, OWN).id
    for item in items:
        occurrence = db_session.get(Occurrence, item["occurrence_id"])
        assert occurrence.station_id == own_id
        assert occurrence.audio_id is not None
        assert item["at"].endswith("+07:00")
        assert item["audio_url"] == f"/api/v1/audio/{item['sha256']}.mp3"
        assert item["priority"] == "normal" and item["version"] == 1 and item["repeat"] == 1
        assert item["size"] > 0 and item["duration_s"] > 0 and item["title"]
    times = [item["at"] for item in items]
    assert times == sorted(times)
    assert "server_time" in document


def test_only_plays_not_yet_started_and_with_audio_are_listed(api, tokens, db_session):
    items = manifest(api, tokens[OWN]).get_json()["items"]
    played, unrendered = (db_session.get(Occurrence, item["occurrence_id"]) for item in items[:2])
    played.status = OccurrenceStatus.PLAYED
    unrendered.audio_id = None
    unrendered.status = OccurrenceStatus.PLANNED
    db_session.add_all([played, unrendered])
    db_session.commit()

    def listed():
        return {item["occurrence_id"] for item in manifest(api, tokens[OWN]).get_json()["items"]}

    wait_until(lambda: played.id not in listed(), timeout=CHANGE_SEEN_S)
    assert unrendered.id not in listed()
    assert len(listed()) == len(items) - 2


def test_an_unchanged_manifest_is_a_304_with_an_empty_body(api, tokens):
    first = manifest(api, tokens[OWN])
    again = manifest(api, tokens[OWN], **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert manifest(api, tokens[OWN], **{"If-None-Match": '"stale"'}).status_code == 200


def test_the_etag_covers_the_content_not_the_server_time(api, tokens, db_session):
    first = manifest(api, tokens[OWN])
    second = manifest(api, tokens[OWN])
    assert first.get_json()["server_time"] != second.get_json()["server_time"]
    assert first.headers["ETag"] == second.headers["ETag"]
    item = first.get_json()["items"][0]
    occurrence = db_session.get(Occurrence, item["occurrence_id"])
    occurrence.status = OccurrenceStatus.PLAYING
    db_session.add(occurrence)
    db_session.commit()
    wait_until(
        lambda: manifest(api, tokens[OWN]).headers["ETag"] != first.headers["ETag"],
        timeout=CHANGE_SEEN_S,
    )


# --- tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic abc", "Bearer not-a-token", "bearer " + "x" * 300],
)
def test_a_missing_or_unknown_token_is_a_401_in_json(api, header):
    headers = {"Authorization": header} if header is not None else {}
    for method, path in (
        ("GET", "/api/v1/manifest"),
        ("GET", "/api/v1/audio/" + "0" * 64 + ".mp3"),
        ("POST", "/api/v1/events"),
        ("POST", "/api/v1/heartbeat"),
    ):
        response = api.open(path, method=method, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.get_json()["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_or_rotated_token_stops_working_within_a_second(api, tokens, db_session):
    from broadcaster.stations.api import revoke_token

    own = support.station(db_session, OWN)
    assert manifest(api, tokens[OWN]).status_code == 200  # now in the server's memory
    new = rotate_token(db_session, own)
    db_session.commit()
    wait_until(lambda: manifest(api, tokens[OWN]).status_code == 401, timeout=CHANGE_SEEN_S)
    assert manifest(api, new).status_code == 200
    for path in ("/api/v1/audio/" + "0" * 64 + ".mp3",):  # the other endpoints: at once
        assert fetch(api, path, **bearer(tokens[OWN])).status_code == 401
    revoke_token(db_session, own)
    db_session.commit()
    wait_until(lambda: manifest(api, new).status_code == 401, timeout=CHANGE_SEEN_S)


def test_an_inactive_station_is_refused(api, tokens, db_session):
    own = support.station(db_session, OWN)
    own.is_active = False
    db_session.add(own)
    db_session.commit()
    assert manifest(api, tokens[OWN]).status_code == 401


def test_a_token_reaches_only_its_own_station(api, tokens, on_air, db_session):
    exclusive = db_session.get(Occurrence, on_air[1]["exclusive"])
    own_items = manifest(api, tokens[OWN]).get_json()["items"]
    other_items = manifest(api, tokens[OTHER]).get_json()["items"]
    assert exclusive.id in {i["occurrence_id"] for i in own_items}
    assert not {i["occurrence_id"] for i in own_items} & {i["occurrence_id"] for i in other_items}
    sha = next(i["sha256"] for i in own_items if i["occurrence_id"] == exclusive.id)
    assert fetch(api, f"/api/v1/audio/{sha}.mp3", **bearer(tokens[OWN])).status_code == 200
    refused = fetch(api, f"/api/v1/audio/{sha}.mp3", **bearer(tokens[OTHER]))
    assert refused.status_code == 404 and refused.get_json()["status"] == 404
    # A batch with one event about another station's play is refused whole.
    own_event = event(other_items[0]["occurrence_id"])
    stolen = event(exclusive.id)
    response = post_events(api, tokens[OTHER], [own_event, stolen])
    assert response.status_code == 403 and "another station" in response.get_json()["error"]
    db_session.rollback()  # a fresh snapshot: see what the request committed
    uids = {own_event["id"], stolen["id"]}
    assert not db_session.exec(select(PlayEvent).where(PlayEvent.uid.in_(uids))).all()
    assert db_session.get(Occurrence, exclusive.id).status == OccurrenceStatus.RENDERED


# --- audio ------------------------------------------------------------------------------


def test_audio_is_served_whole_and_by_range_with_long_cache_headers(api, tokens, api_settings):
    item = manifest(api, tokens[OWN]).get_json()["items"][0]
    url = item["audio_url"]
    whole = fetch(api, url, **bearer(tokens[OWN]))
    assert whole.status_code == 200 and whole.mimetype == "audio/mpeg"
    data = whole.get_data()
    assert hashlib.sha256(data).hexdigest() == item["sha256"] and len(data) == item["size"]
    assert whole.headers["ETag"] == f'"{item["sha256"]}"'
    cache = whole.headers["Cache-Control"]
    assert "immutable" in cache and "max-age=31536000" in cache and "public" not in cache
    part = fetch(api, url, **bearer(tokens[OWN]), Range="bytes=1000-")
    assert part.status_code == 206
    assert part.get_data() == data[1000:]
    assert part.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    middle = fetch(api, url, **bearer(tokens[OWN]), Range="bytes=10-19")
    assert middle.status_code == 206 and middle.get_data() == data[10:20]
    beyond = fetch(api, url, **bearer(tokens[OWN]), Range=f"bytes={len(data) + 5}-")
    assert beyond.status_code == 416
    cached = fetch(api, url, **bearer(tokens[OWN]), **{"If-None-Match": f'"{item["sha256"]}"'})
    assert cached.status_code == 304


@pytest.mark.parametrize("name", ["nothex.mp3", "0" * 64 + ".wav", "0" * 64 + ".mp3", "x"])
def test_unknown_audio_is_a_404_in_json(api, tokens, name):
    response = fetch(api, f"/api/v1/audio/{name}", **bearer(tokens[OWN]))
    assert response.status_code == 404 and response.get_json()["status"] == 404


# --- events -----------------------------------------------------------------------------


def test_events_are_stored_once_however_often_they_are_sent(api, tokens, db_session):
    item = manifest(api, tokens[OWN]).get_json()["items"][0]
    occurrence_id = item["occurrence_id"]
    scheduled = db_session.get(Occurrence, occurrence_id).at
    batch = [
        event(occurrence_id, "started", at=scheduled + timedelta(seconds=2)),
        event(occurrence_id, "finished", at=scheduled + timedelta(seconds=90), detail="ok"),
    ]
    first = post_events(api, tokens[OWN], batch)
    assert first.status_code == 200
    assert first.get_json()["accepted"] == 2 and first.get_json()["duplicate"] == 0
    again = post_events(api, tokens[OWN], batch + batch)  # a retry, even doubled
    assert again.status_code == 200
    assert again.get_json()["accepted"] == 0 and again.get_json()["duplicate"] == 4
    db_session.rollback()  # a fresh snapshot: see what the request committed
    stored = db_session.exec(select(PlayEvent).where(PlayEvent.occurrence_id == occurrence_id))
    kinds = sorted(e.kind for e in stored if e.uid)
    assert kinds == ["finished", "started"]
    occurrence = db_session.get(Occurrence, occurrence_id)
    assert occurrence.status == OccurrenceStatus.PLAYED and occurrence.late is False
    assert occurrence.started_at == scheduled + timedelta(seconds=2)


def test_a_batch_sent_twice_at_once_is_stored_once_and_both_requests_succeed(
    api, api_settings, tokens, db_session
):
    import threading

    occurrence_id = manifest(api, tokens[OWN]).get_json()["items"][0]["occurrence_id"]
    batch = [event(occurrence_id, "started"), event(occurrence_id, "finished")]
    answers = []
    engine = db.make_engine(api_settings.database_url)
    # Both requests read that none of the events exists yet, then wait here (on the
    # occurrence's row; on SQLite, for the write lock): they race to store the same ids.
    holder = Session(db.writer(engine))
    holder.get(Occurrence, occurrence_id, with_for_update=True)
    threads = [
        threading.Thread(target=lambda: answers.append(post_events(api, tokens[OWN], batch)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    threads[0].join(0.5)
    holder.commit()
    holder.close()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert [a.status_code for a in answers] == [200, 200]
    counts = sorted((a.get_json()["accepted"], a.get_json()["duplicate"]) for a in answers)
    assert counts == [(0, 2), (2, 0)]
    db_session.rollback()
    stored = db_session.exec(select(PlayEvent).where(col(PlayEvent.uid).is_not(None)))
    assert sorted(e.kind for e in stored) == ["finished", "started"]


def test_a_late_start_is_flagged_from_the_event_time(api, tokens, db_session):
    occurrence_id = manifest(api, tokens[OWN]).get_json()["items"][0]["occurrence_id"]
    scheduled = db_session.get(Occurrence, occurrence_id).at
    late = event(occurrence_id, "started", at=scheduled + timedelta(minutes=3))
    assert post_events(api, tokens[OWN], [late]).status_code == 200
    db_session.rollback()  # a fresh snapshot: see what the request committed
    occurrence = db_session.get(Occurrence, occurrence_id)
    assert occurrence.status == OccurrenceStatus.PLAYING and occurrence.late is True
    stored = db_session.exec(select(PlayEvent).where(PlayEvent.uid == late["id"])).one()
    assert stored.detail == "late by 180 s" and stored.actor == f"agent:{OWN}"


def test_a_skipped_play_is_recorded_with_its_reason(api, tokens, db_session):
    occurrence_id = manifest(api, tokens[OWN]).get_json()["items"][0]["occurrence_id"]
    skipped = event(occurrence_id, "skipped", detail="not played: 700 s past its time")
    assert post_events(api, tokens[OWN], [skipped]).status_code == 200
    db_session.rollback()  # a fresh snapshot: see what the request committed
    occurrence = db_session.get(Occurrence, occurrence_id)
    assert occurrence.status == OccurrenceStatus.SKIPPED
    assert occurrence.reason == "not played: 700 s past its time"


BAD_BATCHES = [
    ({"events": "no"}, 422),
    ({}, 422),
    ([], 422),
    ({"events": [1]}, 422),
    ({"events": [{"occurrence_id": 1, "kind": "started", "at": "2026-01-01T00:00:00Z"}]}, 422),
    ({"events": [{"id": "a b", "occurrence_id": 1, "kind": "started", "at": "x"}]}, 422),
    ({"events": [{"id": "a", "occurrence_id": "1", "kind": "started", "at": "x"}]}, 422),
    ({"events": [{"id": "a", "occurrence_id": True, "kind": "started", "at": "x"}]}, 422),
    ({"events": [{"id": "a", "occurrence_id": 2**70, "kind": "started", "at": "x"}]}, 422),
    (  # larger than an INTEGER column (32 bits on PostgreSQL)
        {
            "events": [
                {"id": "a", "occurrence_id": 2**31, "kind": "started", "at": "2026-01-01T00:00Z"}
            ]
        },
        422,
    ),
    ({"events": [{"id": "a", "occurrence_id": 1, "kind": "exploded", "at": "x"}]}, 422),
    (
        {"events": [{"id": "a", "occurrence_id": 1, "kind": "started", "at": "2026-01-01T00:00"}]},
        422,
    ),  # no offset
    (
        {
            "events": [
                {"id": "a", "occurrence_id": 1, "kind": "started", "at": "9999-12-31T23:59-14:00"}
            ]
        },
        422,
    ),  # past year 9999 in UTC
    (
        {
            "events": [
                {"id": "a", "occurrence_id": 1, "kind": "started", "at": "2026-01-01T00:00Z"}
            ]
            * 501
        },
        422,
    ),
]


@pytest.mark.parametrize(("body", "status"), BAD_BATCHES)
def test_malformed_batches_are_refused_in_json_and_change_nothing(
    api, tokens, db_session, body, status
):
    before = len(db_session.exec(select(PlayEvent)).all())
    response = post_events_raw(api, tokens[OWN], json.dumps(body))
    assert response.status_code == status, response.get_json()
    assert response.get_json()["status"] == status and response.get_json()["error"]
    db_session.rollback()  # a fresh snapshot: see what the request committed
    assert len(db_session.exec(select(PlayEvent)).all()) == before


def post_events_raw(api, token, data, content_type="application/json"):
    return api.post("/api/v1/events", data=data, content_type=content_type, headers=bearer(token))


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[" * 100_000, "application/json", 400),  # nested too deep for the parser
        (b"\xff\xfe", "application/json", 400),
        ('{"events": []}', "text/plain", 415),
        ('{"events": [], "pad": "' + "x" * (1024 * 1024) + '"}', "application/json", 413),
    ],
)
def test_unreadable_bodies_are_4xx_json(api, tokens, data, content_type, status):
    response = post_events_raw(api, tokens[OWN], data, content_type)
    assert response.status_code == status
    assert response.get_json()["status"] == status


def test_an_event_for_an_occurrence_deleted_since_is_kept_in_the_station_log(
    api, tokens, db_session
):
    gone = event(987654, "finished", detail="played")
    assert post_events(api, tokens[OWN], [gone]).get_json()["accepted"] == 1
    stored = db_session.exec(select(PlayEvent).where(PlayEvent.uid == gone["id"])).one()
    assert stored.occurrence_id is None
    assert stored.station_id == support.station(db_session, OWN).id
    assert "987654 no longer exists" in stored.detail


# --- heartbeat, OpenAPI -------------------------------------------------------------------


def test_a_heartbeat_is_kept_per_station(api, tokens, db_session):
    beat = {
        "version": "0.1.0",
        "free_disk_mb": 5000,
        "player_state": "idle",
        "last_sync": "2026-11-30T06:00:00+07:00",
        "cache_files": 3,
    }
    response = api.post("/api/v1/heartbeat", json=beat, headers=bearer(tokens[OWN]))
    assert response.status_code == 200 and "server_time" in response.get_json()
    stored = db_session.exec(select(StationBeat)).all()
    assert [s.free_disk_mb for s in stored] == [5000]  # the first beat of a quiet second: now
    # Beats within a second of a write wait for the next one (broadcaster/stations/heartbeats.py).
    api.post("/api/v1/heartbeat", json={**beat, "free_disk_mb": 4000}, headers=bearer(tokens[OWN]))

    def latest():
        db_session.rollback()  # a new snapshot: the beat is written by another connection
        return db_session.exec(select(StationBeat)).all()

    wait_until(lambda: latest()[0].free_disk_mb == 4000, timeout=CHANGE_SEEN_S)
    stored = latest()
    assert len(stored) == 1 and stored[0].cache_files == 3
    assert stored[0].last_sync.hour == 23  # 06:00 in Huế, stored as UTC
    assert stored[0].station_id == support.station(db_session, OWN).id
    bad = api.post("/api/v1/heartbeat", json={"free_disk_mb": "lots"}, headers=bearer(tokens[OWN]))
    assert bad.status_code == 422
    # NUL, which PostgreSQL's text cannot hold, arrives as U+FFFD.
    nul = api.post("/api/v1/heartbeat", json={"version": "1\x00"}, headers=bearer(tokens[OWN]))
    assert nul.status_code == 200
    wait_until(lambda: latest()[0].version == "1\ufffd", timeout=CHANGE_SEEN_S)


def test_the_openapi_document_describes_every_route(api, api_app):
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.0")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = set(document["paths"])
    routes = [
        rule.rule
        for rule in api_app.extensions["api_app"].url_map.iter_rules()
        if rule.endpoint.startswith("api.")
    ]
    assert len(routes) == 8
    for route in routes:
        path = route.replace("<name>", "{sha256}.mp3").replace("<int:command_id>", "{command_id}")
        assert "/api/v1" + path in paths, route


def test_a_405_says_which_methods_are_allowed(api, tokens):
    response = api.delete("/api/v1/manifest", headers=bearer(tokens[OWN]))
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def test_station_api_responses_set_no_cookie(api, tokens):
    response = manifest(api, tokens[OWN])
    assert "Set-Cookie" not in response.headers


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    api_settings, tokens, tmp_path, db_session
):
    """Property-based requests from the OpenAPI document against the real server."""
    # A command of the station's (id 1, the document's example) for the result route.
    db_session.add(
        StationCommand(id=1, station_id=support.station(db_session, OWN).id, kind="sync")
    )
    db_session.commit()
    # Limits off: schemathesis sends far faster than an agent, and the logic is the point.
    # A held push answers within a second here, and holds as many as are sent at once
    # (a full server's documented 503 would read as a server error).
    env = {
        "BROADCASTER_API_RATE_PER_MINUTE": "0",
        "BROADCASTER_PUSH_HOLD_SECONDS": "1",
        "BROADCASTER_PUSH_MAX_HELD": "100",
    }
    server = support.Server(api_settings, env=env).start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {tokens[OWN]}",
                "--checks",
                "all",
                "--max-examples",
                "25",
                "--seed",
                "7",
                "--generation-database",
                "none",
                "--no-color",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            cwd=tmp_path,  # schemathesis keeps state in .schemathesis/ where it runs
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


def test_the_station_rows_keep_only_a_hash_of_the_token(tokens, db_session):
    stored = support.station(db_session, OWN).token_hash
    assert stored == hashlib.sha256(tokens[OWN].encode()).hexdigest()
    everything = " ".join(str(v) for v in db_session.exec(select(Station)).all())
    assert tokens[OWN] not in everything


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1"])
def test_an_unknown_api_path_is_a_404_in_json_not_a_web_page(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.get_json() == {"error": "not found", "status": 404}


def test_an_unreachable_database_is_a_503_in_json_with_retry_after(api, api_app, tokens):
    from sqlalchemy import create_engine

    from broadcaster.stations.manifestcache import ManifestCache
    from web.api import MANIFESTS

    unreachable = create_engine("sqlite:////nonexistent-folder/broadcaster.db")
    station_api = api_app.extensions["api_app"]
    station_api.extensions["engine"] = unreachable
    station_api.extensions[MANIFESTS] = ManifestCache(unreachable)
    response = manifest(api, tokens[OWN])
    assert response.status_code == 503
    assert response.get_json()["error"].startswith("database unavailable")
    assert response.headers["Retry-After"] == "30"


# --- rate limits and headers ------------------------------------------------------------


@pytest.fixture
def limited(api_settings):
    """The API with small limits: 2 requests per token, then one a second; 3 bad tokens."""
    import dataclasses

    from web import create_app

    settings = dataclasses.replace(
        api_settings,
        api_rate_per_minute=60,
        api_burst=2,
        api_failures_per_minute=6,
        api_failure_burst=3,
    )
    app = create_app({"SETTINGS": settings, "TESTING": True})
    yield app.test_client()
    app.extensions["engine"].dispose()


def test_a_station_past_its_rate_gets_429_in_json_with_retry_after(limited, tokens):
    assert manifest(limited, tokens[OWN]).status_code == 200
    assert (
        limited.post("/api/v1/heartbeat", json={}, headers=bearer(tokens[OWN])).status_code == 200
    )
    refused = manifest(limited, tokens[OWN])
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.get_json() == {"error": "too many requests; retry after 1 s", "status": 429}
    assert manifest(limited, tokens[OTHER]).status_code == 200  # another station is not slowed
    paths = limited.get("/api/v1/openapi.json").get_json()["paths"]
    operations = [operation for path in paths.values() for operation in path.values()]
    assert all("429" in o["responses"] for o in operations if "401" in o["responses"])


def test_guessing_tokens_is_throttled_per_address_without_stopping_real_stations(limited, tokens):
    here, elsewhere = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.1"}
    assert (
        limited.get("/api/v1/manifest", headers=bearer(tokens[OWN]), environ_base=here).status_code
        == 200
    )
    for guess in range(3):
        response = limited.get(
            "/api/v1/manifest", headers=bearer(f"guess{guess}"), environ_base=here
        )
        assert response.status_code == 401
    refused = limited.get("/api/v1/manifest", headers=bearer("guess3"), environ_base=here)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert limited.get("/api/v1/manifest", environ_base=here).status_code == 429  # no token
    assert (
        limited.get("/api/v1/manifest", headers=bearer(tokens[OWN]), environ_base=here).status_code
        == 200
    )
    other = limited.get("/api/v1/manifest", headers=bearer("guess4"), environ_base=elsewhere)
    assert other.status_code == 401


def test_api_answers_carry_their_own_security_headers(api, tokens):
    for response in (
        manifest(api, tokens[OWN]),
        post_events(api, tokens[OWN], []),
        api.get("/api/v1/manifest"),
    ):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP here
    assert manifest(api, tokens[OWN]).headers["Cache-Control"] == "no-cache"  # ETag revalidation
    assert api.get("/api/v1/manifest").headers["Cache-Control"] == "no-store"
    secure = api.get("/api/v1/manifest", headers=bearer(tokens[OWN]), base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
