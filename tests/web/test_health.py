"""Health checks and Prometheus metrics, read the way a load balancer and Prometheus read them."""

import uuid
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from broadcaster.core import db
from broadcaster.core.config import load_settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Occurrence, OccurrenceStatus, ServiceBeat, StationBeat
from broadcaster.ops.health import SCHEDULER_SERVICE
from broadcaster.ops.metrics import DatabaseCollector
from broadcaster.stations import api as stationapi
from tests import stationapi_support as support

AGENT = "HUE-THUAN-AN"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_it_is_healthy_without_a_login_when_the_database_is_migrated(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["migration"] == response.json["head"]


def test_it_answers_503_with_the_reason_when_the_database_is_behind(app, engine):
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0006'")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "0006" in response.json["reason"]


def test_it_answers_503_when_the_database_is_not_there(tmp_path):
    from web import create_app

    settings = load_settings(
        {
            "BROADCASTER_ENV": "test",
            "BROADCASTER_INSTANCE_DIR": str(tmp_path / "instance"),
            "BROADCASTER_DATABASE_URL": f"sqlite:///{tmp_path / 'nothing.db'}",
        }
    )
    app = create_app({"SETTINGS": settings, "TESTING": True})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "broadcaster db upgrade" in response.json["reason"]


def test_outsiders_see_the_status_but_not_the_details(client):
    response = client.get("/healthz", environ_base=OUTSIDE)
    assert response.status_code == 200
    assert response.json == {"component": "web", "status": "ok"}


def test_the_scheduler_is_unhealthy_until_it_beats_and_again_when_the_beat_is_old(client, session):
    assert client.get("/healthz/scheduler").status_code == 503
    now = utcnow()
    session.add(ServiceBeat(name=SCHEDULER_SERVICE, pid=4242, started_at=now, seen_at=now))
    session.commit()
    fresh = client.get("/healthz/scheduler")
    assert fresh.status_code == 200
    assert fresh.json["pid"] == 4242
    beat = session.get(ServiceBeat, SCHEDULER_SERVICE)
    beat.seen_at = now - timedelta(minutes=2)  # 15 s beats: stale after 45 s
    session.add(beat)
    session.commit()
    stale = client.get("/healthz/scheduler")
    assert stale.status_code == 503
    assert "stale" in stale.json["reason"]


def test_metrics_are_refused_to_outsiders_and_to_requests_through_a_proxy(client):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert proxied.status_code == 403
    assert client.get("/metrics").status_code == 200  # loopback, directly


def test_a_bearer_token_opens_metrics_from_anywhere(tmp_path, settings):
    from web import create_app

    token = "metrics-" + "x" * 24
    token_file = tmp_path / "metrics-token"
    token_file.write_text(token + "\n")
    configured = load_settings(
        {
            "BROADCASTER_ENV": "test",
            "BROADCASTER_INSTANCE_DIR": str(settings.instance_dir),
            "BROADCASTER_DATABASE_URL": settings.database_url,
            "BROADCASTER_METRICS_TOKEN_FILE": str(token_file),
            "BROADCASTER_METRICS_ALLOW": "",
        }
    )
    app = create_app({"SETTINGS": configured, "TESTING": True})
    client = app.test_client()
    assert client.get("/metrics").status_code == 403  # loopback no longer enough
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"}, environ_base=OUTSIDE)
    assert wrong.status_code == 403
    right = client.get(
        "/metrics", headers={"Authorization": f"Bearer {token}"}, environ_base=OUTSIDE
    )
    assert right.status_code == 200
    assert right.content_type.startswith("text/plain; version=0.0.4")
    app.extensions["engine"].dispose()


def test_a_play_reported_by_an_agent_shows_as_played_and_as_api_latency(client, session, settings):
    schedule = support.schedule_for(session, support.DAILY, [AGENT])
    station = support.station(session, AGENT)
    occurrence = Occurrence(
        schedule_id=schedule.id,
        station_id=station.id,
        at=utcnow(),
        version_id=support.approved_version(session, schedule).id,
    )
    session.add(occurrence)
    token = stationapi.rotate_token(session, station)
    session.commit()
    before = client.get("/metrics").get_data(as_text=True)
    event = {
        "id": uuid.uuid4().hex,
        "occurrence_id": occurrence.id,
        "kind": "finished",
        "at": utcnow().isoformat(),
    }
    response = client.post(
        "/api/v1/events", json={"events": [event]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.json
    after = client.get("/metrics").get_data(as_text=True)
    played = "broadcaster_plays_today"
    assert value(after, played, status="played") == value(before, played, status="played") + 1
    latency = "broadcaster_api_request_duration_seconds_count"
    labels = {"endpoint": "api.events", "method": "POST", "code": "200"}
    assert value(after, latency, **labels) == value(before, latency, **labels) + 1


@pytest.fixture
def clock():
    # 10:00 in Huế: the plays below are all on the same local day.
    return lambda: datetime.fromisoformat("2026-11-30T03:00:00+00:00")


def test_the_database_figures_match_what_is_in_the_database(session, settings, clock):
    now = clock()
    schedule = support.schedule_for(session, support.DAILY, [AGENT])
    version_id = support.approved_version(session, schedule).id
    agent = support.station(session, AGENT)

    def occurrence(minutes: int, status: str = OccurrenceStatus.PLANNED) -> None:
        at = now + timedelta(minutes=minutes)
        session.add(
            Occurrence(
                schedule_id=schedule.id,
                station_id=agent.id,
                at=at,
                version_id=version_id,
                status=status,
            )
        )

    occurrence(-120, OccurrenceStatus.PLAYED)
    occurrence(-60, OccurrenceStatus.MISSED)
    occurrence(-5)  # in the grace window: waits for audio, but no longer "due"
    occurrence(30)  # due within the hour
    occurrence(120)  # due later today
    occurrence(60 * 20)  # tomorrow: waits for audio only
    session.add(StationBeat(station_id=agent.id, seen_at=now - timedelta(seconds=30)))
    others = [s for s in support_agents(session) if s.id != agent.id]
    session.add(StationBeat(station_id=others[0].id, seen_at=now - timedelta(minutes=5)))
    session.add(StationBeat(station_id=others[1].id, seen_at=now - timedelta(hours=2)))
    session.commit()

    engine = db.make_engine(settings.database_url)
    try:
        families = {f.name: f for f in DatabaseCollector(engine, settings, clock).collect()}
    finally:
        engine.dispose()

    def figure(name, **labels):
        return next(
            s.value
            for s in families[name].samples
            if all(s.labels.get(k) == v for k, v in labels.items())
        )

    assert figure("broadcaster_plays_today", status="played") == 1
    assert figure("broadcaster_plays_today", status="missed") == 1
    assert figure("broadcaster_plays_today", status="planned") == 3
    assert figure("broadcaster_plays_due", window="next_hour") == 1
    assert figure("broadcaster_plays_due", window="rest_of_today") == 2
    assert figure("broadcaster_render_queue") == 4
    agents = len(support_agents(session))
    assert figure("broadcaster_stations", state="online") == 1
    assert figure("broadcaster_stations", state="late") == 1
    assert figure("broadcaster_stations", state="offline") == 1
    assert figure("broadcaster_stations", state="never") == agents - 3
    assert figure("broadcaster_scheduler_up") == 0


def support_agents(session: Session):
    from sqlmodel import select

    from broadcaster.core.models import PlayoutMode, Station

    return list(session.exec(select(Station).where(Station.mode == PlayoutMode.AGENT)))
