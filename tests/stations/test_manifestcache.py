"""The station API's manifests kept in memory: served without the database until a change
that concerns them is logged, then rebuilt; other stations' manifests are kept."""

import pytest
from sqlalchemy import text
from sqlmodel import Session

from broadcaster.core import db
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Occurrence, OccurrenceStatus, Script
from broadcaster.stations import manifestcache
from broadcaster.stations.manifestcache import MAX_AGE_S, POLL_S, ManifestCache
from tests import stationapi_support as support
from tests.databases import backend_name
from tests.web.test_api import OTHER, OWN, api_settings, on_air, tokens  # noqa: F401

pytestmark = pytest.mark.skipif(
    backend_name() == "postgresql", reason="the manifest cache and its triggers are SQLite's"
)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def engine(api_settings):  # noqa: F811
    engine = db.make_engine(api_settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def built(monkeypatch):
    """Station ids whose manifest was read from the database, in order."""
    calls = []
    real = manifestcache.manifest_for_token

    def counting(engine, token, *, now):
        manifest = real(engine, token, now=now)
        calls.append(manifest.station_id if manifest else None)
        return manifest

    monkeypatch.setattr(manifestcache, "manifest_for_token", counting)
    return calls


@pytest.fixture
def cache(engine):
    return ManifestCache(engine, clock=Clock())


def later(cache, seconds=POLL_S):
    cache._clock.now += seconds


def test_an_unchanged_manifest_is_served_from_memory(cache, tokens, built):  # noqa: F811
    first = cache.manifest(tokens[OWN], now=utcnow())
    later(cache)
    again = cache.manifest(tokens[OWN], now=utcnow())
    assert again.etag == first.etag and len(built) == 1
    later(cache, MAX_AGE_S)
    cache.manifest(tokens[OWN], now=utcnow())
    assert len(built) == 2  # rebuilt at the latest after MAX_AGE_S


def test_a_change_to_a_stations_plays_rebuilds_its_manifest_only(
    cache,
    engine,
    tokens,  # noqa: F811
    built,
):
    own = cache.manifest(tokens[OWN], now=utcnow())
    cache.manifest(tokens[OTHER], now=utcnow())
    played = own.body["items"][0]["occurrence_id"]
    with Session(engine) as session:
        occurrence = session.get(Occurrence, played)
        occurrence.status = OccurrenceStatus.PLAYED
        session.add(occurrence)
        session.commit()
    assert cache.manifest(tokens[OWN], now=utcnow()).etag == own.etag  # within POLL_S
    later(cache)
    rebuilt = cache.manifest(tokens[OWN], now=utcnow())
    assert played not in {item["occurrence_id"] for item in rebuilt.body["items"]}
    cache.manifest(tokens[OTHER], now=utcnow())
    assert len(built) == 3  # OWN, OTHER, OWN again; OTHER came from memory


def test_a_change_that_concerns_everyone_rebuilds_every_manifest(
    cache,
    engine,
    tokens,  # noqa: F811
    built,
):
    cache.manifest(tokens[OWN], now=utcnow())
    cache.manifest(tokens[OTHER], now=utcnow())
    with Session(engine) as session:
        script = session.get(Script, support.schedule_for(session, support.HOW_TO, [OWN]).script_id)
        script.title = script.title + " (sửa)"
        session.add(script)
        session.commit()
    later(cache)
    cache.manifest(tokens[OWN], now=utcnow())
    cache.manifest(tokens[OTHER], now=utcnow())
    assert len(built) == 4


def test_a_process_that_fell_behind_a_pruned_log_starts_afresh(
    cache,
    engine,
    tokens,  # noqa: F811
    built,
):
    cache.manifest(tokens[OTHER], now=utcnow())
    with engine.begin() as connection:  # two changes elsewhere, the first pruned away
        connection.execute(text("INSERT INTO manifestchange (station_id) VALUES (-1), (-2)"))
    assert manifestcache.prune(engine, keep=1) >= 1
    later(cache)
    cache.manifest(tokens[OTHER], now=utcnow())
    assert len(built) == 2


def test_every_trigger_of_the_change_log_exists_after_the_migrations(engine):
    with engine.connect() as connection:
        names = set(
            connection.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars()
        )
    from importlib import import_module

    for module in ("0010_manifest_changes", "0011_stream_relays"):
        migration = import_module(f"broadcaster.migrations.versions.{module}")
        assert {f"manifest_{name}" for name, *_ in migration.TRIGGERS} <= names, module


def test_a_change_log_that_went_backwards_starts_the_cache_afresh(
    cache,
    engine,
    tokens,  # noqa: F811
    built,
):
    cache.manifest(tokens[OTHER], now=utcnow())
    with engine.begin() as connection:  # e.g. an older database restored under the server
        connection.execute(text("DELETE FROM manifestchange"))
    later(cache)
    cache.manifest(tokens[OTHER], now=utcnow())
    assert len(built) == 2
    with pytest.raises(ValueError):
        manifestcache.prune(engine, keep=0)


def test_retiring_a_relayed_stream_rebuilds_the_manifests_that_offer_it(
    cache,
    engine,
    tokens,  # noqa: F811
    built,
):
    from broadcaster.core.models import StreamSource, StreamStatus
    from broadcaster.onair import occurrences as onair
    from broadcaster.onair.schedules import ScheduleInput, save_schedule

    with Session(engine, expire_on_commit=False) as session:
        stream = StreamSource(
            name="VOV1", url="http://127.0.0.1:9/v.mp3", status=StreamStatus.APPROVED
        )
        session.add(stream)
        session.flush()
        save_schedule(
            session=session,
            data=ScheduleInput(
                name="Tiếp sóng VOV1",
                script=None,
                stream=stream,
                duration_min=30,
                kind="weekly",
                weekdays=list(range(7)),
                times=["05:30"],
                station_ids=[support.station(session, OWN).id],
            ),
            actor=support.user(session, "approver"),
        )
        onair.materialize(session, now=utcnow(), hours=48)
        session.commit()
    later(cache)
    offered = cache.manifest(tokens[OWN], now=utcnow())
    assert "relay" in {item["kind"] for item in offered.body["items"]}
    with Session(engine) as session:
        stream = session.get(StreamSource, stream.id)
        stream.status = StreamStatus.RETIRED
        session.add(stream)
        session.commit()
    later(cache)
    rebuilt = cache.manifest(tokens[OWN], now=utcnow())
    assert "relay" not in {item["kind"] for item in rebuilt.body["items"]}
