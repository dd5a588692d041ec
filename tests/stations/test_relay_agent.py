"""A real agent process reads relay items from a real server and caches their fallback audio."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from broadcaster.core import db
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Occurrence, OccurrenceStatus, Schedule, StreamSource
from tests import stationapi_support as support
from tests.helpers import wait_until
from tests.stations.test_agent import OWN, cached, site, stop_agent, studio  # noqa: F401


def add_relay(site, *, at):  # noqa: F811
    """An approved stream relayed at `at` with the daily reminder's audio as its fallback."""
    engine = db.make_engine(site.settings.database_url)
    try:
        with Session(engine) as session:
            stream = StreamSource(
                name="VOV1", url="http://127.0.0.1:9/vov1.mp3", status="approved", check_ok=True
            )
            session.add(stream)
            session.flush()
            daily = session.get(Schedule, site.schedule_id)
            relay = Schedule(
                name="Tiếp sóng VOV1",
                kind="weekly",
                weekdays="0,1,2,3,4,5,6",
                times="05:30",
                stream_id=stream.id,
                duration_min=30,
                fallback_script_id=daily.script_id,
            )
            session.add(relay)
            session.flush()
            occurrence = Occurrence(
                schedule_id=relay.id,
                station_id=support.station(session, OWN).id,
                at=at,
                version_id=site.version_id,
                audio_id=site.audio.id,
                status=OccurrenceStatus.RENDERED,
            )
            session.add(occurrence)
            session.commit()
            return occurrence.id
    finally:
        engine.dispose()


def test_the_agent_caches_a_relays_fallback_like_any_audio(site):  # noqa: F811
    occurrence_id = add_relay(site, at=utcnow() + timedelta(hours=2))
    server = site.server().start()
    process = site.agent(server.url)
    try:
        wait_until(lambda: cached(site).exists(), timeout=15)
        audio_path = f"/api/v1/audio/{site.audio.sha256}.mp3"
        assert any(r[1] == audio_path for r in server.requests())
    finally:
        stop_agent(process)
        server.stop()
    # the studio's own play of that audio is days away, outside every manifest: only the
    # relay item can have sent the agent for it, and the agent read the item
    assert "ignoring an item" not in site.log(), occurrence_id
