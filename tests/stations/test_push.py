"""Push and the clock: a held connection tells an agent of a change within a second, a revoked
token's connection ends, refused push falls back to polling, and plays go by the server's
time even when the station's clock is wrong. Real server (waitress) and agents on loopback.
"""

import json
import random
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from broadcaster.core import db
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Occurrence, StationBeat
from broadcaster.onair import occurrences as onair
from broadcaster.onair.players import NullPlayer
from broadcaster.onair.schedules import broadcast_now
from broadcaster.stations import api as stationapi
from broadcaster.stations.agent import runner as agent
from broadcaster.stations.agent.client import Client
from broadcaster.stations.agent.push import PushListener
from broadcaster.stations.push import PushFull, PushHub, wake
from tests import stationapi_support as support
from tests.helpers import wait_until
from tests.stations.test_agent import OWN, site, studio  # noqa: F401  (fixtures)

NEIGHBOUR = "HUE-KIM-LONG"


def cached_manifest(cache: Path) -> dict:
    from broadcaster.stations.agent.store import LocalStore

    path = cache / "agent.db"
    if not path.exists():
        return {}
    store = LocalStore(path)
    try:
        return json.loads(store.get("manifest") or "{}")
    finally:
        store.close()


def holds(cache: Path, occurrence_id: int) -> bool:
    return any(i["occurrence_id"] == occurrence_id for i in cached_manifest(cache).get("items", []))


def phat_ngay(settings, code: str) -> int:
    """ "Phát ngay" at one station as an approver issues it, planned and its audio rendered;
    returns the occurrence id (committed when this returns)."""
    engine = db.make_engine(settings.database_url)
    try:
        # The write lock up front: the server writes heartbeats meanwhile.
        with db.session_scope(engine) as session:
            script = support.approved(session, support.DAILY)
            schedule = broadcast_now(
                session=session,
                script=script,
                actor=support.user(session, "approver"),
                station_ids=[support.station(session, code).id],
                area_ids=[],
                targets_all=False,
                now=utcnow(),
                timezone=settings.timezone,
            )
            onair.materialize(session, now=utcnow(), hours=0.1, schedule_ids=[schedule.id])
            onair.render_due(session, settings, now=utcnow(), hours=0.1)
            occurrence_id = session.exec(
                select(Occurrence.id).where(Occurrence.schedule_id == schedule.id)
            ).one()
        return occurrence_id
    finally:
        engine.dispose()


def request_push(url: str, token: str, etag: str | None, timeout: float = 30):
    """GET /api/v1/push as an agent would: (status, seconds it took)."""
    request = urllib.request.Request(f"{url}/api/v1/push")
    request.add_header("Authorization", f"Bearer {token}")
    if etag:
        request.add_header("If-None-Match", etag)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started
    except OSError:  # the server stopped while it held the request
        return None, time.monotonic() - started


def add_while_serving(site, at) -> int:  # noqa: F811
    """site.add(), retried: the server's heartbeat writes may hold SQLite's lock a moment."""
    for _attempt in range(20):
        try:
            return site.add(at)
        except OperationalError:
            time.sleep(0.1)
    raise AssertionError("the database stayed locked")


def etag_of(url: str, token: str) -> str:
    request = urllib.request.Request(f"{url}/api/v1/manifest")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["ETag"]


# --- with a real server and agent ---------------------------------------------------------


def test_a_phat_ngay_reaches_a_connected_agent_long_before_its_next_poll(site):  # noqa: F811
    server = site.server().start()
    process = site.agent(server.url, sync=300)  # only push can explain a sync within seconds
    try:
        wait_until(lambda: "manifest (server)" in site.log(), timeout=20)
        wait_until(lambda: ("GET", "/api/v1/manifest") in {r[:2] for r in server.requests()})
        time.sleep(1.0)  # the push request is held by now
        occurrence_id = phat_ngay(site.settings, OWN)
        issued = time.monotonic()
        wait_until(lambda: holds(site.cache, occurrence_id), timeout=10, interval=0.05)
        reached = time.monotonic() - issued
        wait_until(lambda: site.server_kinds(occurrence_id)["started"] == 1, timeout=20)
    finally:
        support.stop(process)
        server.stop()
    assert reached < 3.0, site.log()  # within a second or two, not at the 300 s poll
    assert "push: the server says manifest changed" in site.log()
    manifests = [r for r in server.requests() if r[1] == "/api/v1/manifest"]
    pushes = [r for r in server.requests() if r[1] == "/api/v1/push" and r[3] == "200"]
    # The first sync, then one per push (the emergency, its play's own events, the last
    # perhaps cut off by the stop): no polls.
    assert 2 <= len(manifests) <= 1 + len(pushes), server.requests()


def test_a_revoked_tokens_held_connection_ends_promptly_with_401(site):  # noqa: F811
    server = site.server().start()
    try:
        etag = etag_of(server.url, site.token)
        answer = {}
        holder = threading.Thread(
            target=lambda: answer.update(got=request_push(server.url, site.token, etag))
        )
        holder.start()
        time.sleep(1.0)
        assert holder.is_alive()  # held: nothing has changed
        engine = db.make_engine(site.settings.database_url)
        with Session(engine) as session:
            stationapi.revoke_token(session, support.station(session, OWN))
            session.commit()
        engine.dispose()
        holder.join(timeout=10)
        status, took = answer["got"]
        assert status == 401
        assert took < 4.0  # about one second held, then the revocation: not the 50 s hold
        assert request_push(server.url, site.token, etag)[0] == 401  # and again at once
    finally:
        server.stop()


def test_an_unchanged_manifest_is_held_for_the_hold_then_answered_204(site):  # noqa: F811
    server = site.server(BROADCASTER_PUSH_HOLD_SECONDS="2").start()
    try:
        etag = etag_of(server.url, site.token)
        status, took = request_push(server.url, site.token, etag)
        assert status == 204 and 1.8 <= took < 5
        # An agent whose ETag is already stale is told at once.
        status, took = request_push(server.url, site.token, '"stale"')
        assert status == 200 and took < 1.5
    finally:
        server.stop()


def test_an_agent_refused_push_polls_and_still_gets_the_change(site):  # noqa: F811
    server = site.server(BROADCASTER_PUSH_MAX_HELD="1").start()
    process = None
    try:
        etag = etag_of(server.url, site.token)
        holder = threading.Thread(target=request_push, args=(server.url, site.token, etag, 60))
        holder.daemon = True
        holder.start()  # takes the one held request this server process allows
        time.sleep(0.5)
        process = site.agent(server.url, sync=1.0)
        wait_until(lambda: "push: refused (HTTP 503" in site.log(), timeout=20)
        occurrence_id = add_while_serving(site, support.soon(30))
        wait_until(lambda: holds(site.cache, occurrence_id), timeout=10)
    finally:
        if process:
            support.stop(process)
        server.stop()
    assert ("GET", "/api/v1/push", "-", "503") in server.requests()


class ClockedPlayer(NullPlayer):
    """Records the real time at which each play began."""

    def __init__(self):
        super().__init__(time_scale=0.01)
        self.started: list[float] = []

    def release(self):  # the instant the sound goes out (prepared ahead by the queue)
        self.started.append(time.time())
        super().release()


def test_an_agent_whose_clock_is_90_s_fast_plays_at_the_servers_instant(site):  # noqa: F811
    server = site.server().start()
    player = ClockedPlayer()
    station_agent = agent.Agent(
        server=server.url,
        token=site.token,
        cache_dir=site.cache,
        player=player,
        sync_interval=0.5,
        heartbeat_interval=0.5,
        clock=lambda: utcnow() + timedelta(seconds=90),
    )
    runner = threading.Thread(target=station_agent.run)
    try:
        runner.start()
        wait_until(lambda: station_agent.clock.offset_s() is not None, timeout=10)
        at = support.soon(6)
        occurrence_id = add_while_serving(site, at)
        wait_until(lambda: player.started, timeout=20)
        beat = wait_until(lambda: stored_beat(site.settings), timeout=10)
    finally:
        station_agent.stop()
        runner.join(timeout=20)
        server.stop()
    # Uncorrected, this clock would have started it about 84 s early, as soon as it synced.
    assert abs(player.started[0] - at.timestamp()) < 1.0
    assert beat.clock_offset_s == pytest.approx(-90, abs=1.0)
    # And the server hears of it at the server's time, not 90 s ahead.
    started = wait_until(lambda: started_at(site.settings, occurrence_id), timeout=10)
    assert abs((started - at).total_seconds()) < 1.0


def started_at(settings, occurrence_id: int):
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return session.get(Occurrence, occurrence_id).started_at
    finally:
        engine.dispose()


def stored_beat(settings) -> StationBeat | None:
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            beat = session.exec(select(StationBeat)).first()
            return beat if beat is not None and beat.clock_offset_s is not None else None
    finally:
        engine.dispose()


# --- the parts alone ----------------------------------------------------------------------


def test_the_hub_wakes_the_named_station_and_everyone_for_a_change_to_all(engine, session):
    own = support.station(session, OWN).id
    neighbour = support.station(session, NEIGHBOUR).id
    hub = PushHub(engine, max_held=3)
    mine, theirs = hub.register(own), hub.register(neighbour)
    hub.stop()  # its thread must not poll first: this test polls itself
    before = hub.cursor()
    wake(session, station_ids=[own], topic="commands")
    session.commit()
    assert hub.poll() == 1
    assert mine.wait(0) == {"commands"} and theirs.wait(0) == set()
    # An agent back with the cursor of its last answer is told what it missed, no query.
    assert hub.since(own, before) == {"commands"} and hub.since(neighbour, before) == set()
    assert hub.since(own, hub.cursor()) == set()
    assert hub.since(own, before - 1) is None  # before this process read: it cannot say
    wake(session, station_ids=None)
    session.commit()
    assert hub.poll() == 2 and theirs.wait(0) == {"manifest"}
    assert hub.poll() == 0  # each change wakes once
    hub.register(own)
    with pytest.raises(PushFull):
        hub.register(own)
    hub.release(mine)
    assert hub.held() == 2


def test_the_hub_reads_a_change_committed_after_a_later_one(engine, session):
    """PostgreSQL may commit a lower id after a higher one: it must not be skipped."""
    own = support.station(session, OWN).id
    hub = PushHub(engine, max_held=2)
    waiter = hub.register(own)
    hub.stop()
    top = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM manifestchange")).scalar()
    session.execute(
        text("INSERT INTO manifestchange (id, station_id) VALUES (:id, NULL)"), {"id": top + 2}
    )
    session.commit()
    hub.poll()
    hub.release(waiter)
    waiter = hub.register(own)
    session.execute(
        text("INSERT INTO manifestchange (id, station_id) VALUES (:id, :s)"),
        {"id": top + 1, "s": own},
    )
    session.commit()
    assert hub.poll() == 1 and waiter.wait(0) == {"manifest"}


def test_reconnects_after_a_restart_spread_over_the_window_with_jitter():
    """500 agents cut off at once: their next attempts are not one burst."""
    rng = random.Random(16)
    listeners = [
        PushListener(Client("http://127.0.0.1:9", "t"), etag=lambda: None, on_topics=print, rng=rng)
        for _ in range(500)
    ]
    for listener in listeners:
        listener.failures = 4  # the fifth failure in a row: a window of 8 s
    waits = sorted(listener.backoff() for listener in listeners)
    assert waits[-1] <= 8.0
    per_second = [sum(1 for w in waits if s <= w < s + 1) for s in range(8)]
    assert max(per_second) < 100, per_second  # about 62 a second, never most at once
    assert max(listener.backoff() for listener in listeners) > 8.0  # and the window grows


def test_the_push_pool_config_is_accepted_and_runs_gevent(settings):
    import subprocess
    import sys

    from broadcaster.core.config import PROJECT_ROOT
    from tests.helpers import env_for

    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--print-config",
            "-c",
            str(PROJECT_ROOT / "deploy" / "gunicorn-push.conf.py"),
            "web.wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    config = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition("=") for line in printed.stdout.splitlines())
    )
    assert config["worker_class"] == "gevent"
    assert config["bind"] == "['127.0.0.1:8001']"
    assert int(config["worker_connections"]) >= 10_000


def test_the_station_page_warns_when_the_agents_clock_is_off(client, auth, session):
    station = support.station(session, OWN)
    session.add(StationBeat(station_id=station.id, seen_at=utcnow(), clock_offset_s=-90.0))
    session.commit()
    auth.login("editor")
    page = client.get(f"/stations/{OWN}").get_data(as_text=True)
    assert 'id="clock-warning"' in page and "90.0" in page
    beat = session.get(StationBeat, station.id)
    beat.clock_offset_s = 0.3
    session.add(beat)
    session.commit()
    page = client.get(f"/stations/{OWN}").get_data(as_text=True)
    assert 'id="clock-warning"' not in page and "0.3" in page


def test_a_heartbeat_keeps_the_clock_offset_and_refuses_one_it_cannot_read(client, session):
    token = stationapi.rotate_token(session, support.station(session, OWN))
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.post("/api/v1/heartbeat", json={"clock_offset_s": 1.25}, headers=headers)
    assert answer.status_code == 200 and "X-Server-Time" in answer.headers
    assert float(answer.headers["X-Server-Time"]) == pytest.approx(time.time(), abs=5)
    refused = client.post("/api/v1/heartbeat", json={"clock_offset_s": "soon"}, headers=headers)
    assert refused.status_code == 422 and "clock_offset_s" in refused.get_json()["error"]
    wait_until(lambda: stored_beat_in(session, OWN), timeout=5)
    assert stored_beat_in(session, OWN).clock_offset_s == 1.25


def stored_beat_in(session, code: str) -> StationBeat | None:
    session.expire_all()
    return session.get(StationBeat, support.station(session, code).id)


def test_the_agents_clock_leaves_the_servers_own_work_out_of_its_offset():
    """80 ms of server work inside a 100 ms round trip would put a midpoint estimate
    40 ms ahead: neighbouring stations would start audibly apart."""
    from broadcaster.stations.agent.clock import ServerClock

    mono = [100.0]
    wall = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    clock = ServerClock(lambda: wall, monotonic=lambda: mono[0])
    sent = clock.started()
    mono[0] = 100.100  # 10 ms each way on the network, 80 ms in the server
    clock.observe(sent, "1000.090000", "1000.010000")
    assert clock().timestamp() == pytest.approx(1000.100, abs=1e-6)
    # Without the arrival stamp (an older server) all of it counts as network.
    old = ServerClock(lambda: wall, monotonic=lambda: mono[0])
    mono[0] = 100.0
    sent = old.started()
    mono[0] = 100.100
    old.observe(sent, "1000.090000")
    assert old().timestamp() == pytest.approx(1000.140, abs=1e-6)


def test_every_station_api_answer_says_when_its_request_arrived_and_when_it_left(client):
    answer = client.get("/api/v1/manifest")  # a refusal carries them too
    assert answer.status_code == 401
    arrived = float(answer.headers["X-Server-Received"])
    left = float(answer.headers["X-Server-Time"])
    assert arrived <= left < arrived + 5 and left == pytest.approx(time.time(), abs=5)
