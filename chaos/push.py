"""Push faults: the held connection dropped and restored, the server restarted during an
emergency, and hundreds of agents reconnecting at once. Real processes on the real clock;
the agent polls only every 300 s, so a play that arrives in seconds came by push."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import text
from sqlmodel import select

from broadcaster.core import db
from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayEvent, Station
from chaos.harness import ChaosError, Instance, Verdict, free_port, wait_for

CODE = "HUE-THUAN-AN"
REACH_S = 20.0  # a play must start this soon after its phát ngay (polling would take 300 s)


def _web(instance: Instance, port: int):
    from chaos.scenarios import start_web

    return start_web(instance, port)


def _agent(instance: Instance, url: str):
    from broadcaster.stations import api as stationapi

    with db.session_scope(instance.engine) as session:
        station = session.exec(select(Station).where(Station.code == CODE)).one()
        token = stationapi.rotate_token(session, station)
    proc = instance.start(
        f"agent-{CODE}",
        *("--server", url, "--token", token, "--cache", str(instance.root / "agent")),
        *("--player", "null", "--sync-interval", "300", "--heartbeat-interval", "5"),
        module="broadcaster.stations.agent",
        BROADCASTER_AGENT_TIME_SCALE="0.02",
    )
    wait_for(lambda: "manifest (server)" in proc.output(), 60, what="the agent's first sync")
    return proc


def _phat_ngay(instance: Instance, script_id: int, station_id: int) -> int:
    """What an approver's "Phát ngay" and the scheduler's next pass do; the schedule id."""
    from broadcaster.core.models import Script
    from broadcaster.onair.occurrences import materialize
    from broadcaster.onair.prerender import render_due
    from broadcaster.onair.schedules import broadcast_now

    settings = instance.settings
    with db.session_scope(instance.engine) as session:
        now = datetime.now(UTC)
        schedule = broadcast_now(
            session=session,
            script=session.get(Script, script_id),
            actor=instance.user(session, "approver"),
            station_ids=[station_id],
            area_ids=[],
            targets_all=False,
            now=now,
            timezone=settings.timezone,
        )
        materialize(session, now=now, hours=0.1, schedule_ids=[schedule.id])
        render_due(session, settings, now=now, hours=0.1)
        return schedule.id


def _starts(instance: Instance, schedule_id: int) -> tuple[list[Occurrence], Counter]:
    with db.session_scope(instance.engine, write=False) as session:
        found = list(session.exec(select(Occurrence).where(Occurrence.schedule_id == schedule_id)))
        ids = [o.id for o in found]
        kinds = Counter(
            e.kind for e in session.exec(select(PlayEvent).where(PlayEvent.occurrence_id.in_(ids)))
        )
    return found, kinds


def _expect_played(instance, verdict, schedule_id: int, issued: float, what: str) -> None:
    verdict.expected += 1

    def started():
        return _starts(instance, schedule_id)[1]["started"] >= 1

    try:
        wait_for(started, REACH_S, what=f"{what}: the play starting")
    except ChaosError:
        verdict.silent += 1
        verdict.problems.append(f"{what}: not started within {REACH_S:.0f} s")
        return
    verdict.tried.append(f"{what}: started {time.monotonic() - issued:.1f} s after phát ngay")


def _settle(instance, verdict, schedule_ids: list[int]) -> None:
    for schedule_id in schedule_ids:

        def done(schedule_id=schedule_id):
            found, _kinds = _starts(instance, schedule_id)
            return found and all(o.status == OccurrenceStatus.PLAYED for o in found)

        try:
            wait_for(done, 30, what=f"schedule {schedule_id} played through")
        except ChaosError as exc:
            verdict.problems.append(str(exc))
        found, kinds = _starts(instance, schedule_id)
        if len(found) != 1:
            verdict.silent += 1
            verdict.problems.append(f"schedule {schedule_id}: {len(found)} occurrences")
            continue
        verdict.duplicates += kinds["started"] > 1
        verdict.played += found[0].status == OccurrenceStatus.PLAYED


def push_dropped_and_server_restarted(ctx) -> Verdict:
    """The web killed under a held push connection and brought back; killed again, with a
    phát ngay issued while it is down."""
    verdict = Verdict("6. push: connection dropped and restored, server restarted mid-emergency")
    instance = Instance(ctx.workdir / "instance", ctx.template)
    try:
        (station_id,) = instance.stations([CODE])
        script = instance.approved_script("Thử lỗi: khẩn cấp qua push")
        port = free_port()
        web, url = _web(instance, port)
        agent = _agent(instance, url)
        verdict.tried.append(f"station {CODE}, agent polling every 300 s, web on waitress")
        schedules = []
        time.sleep(1.0)  # its push request is held
        issued = time.monotonic()
        schedules.append(_phat_ngay(instance, script, station_id))
        _expect_played(instance, verdict, schedules[-1], issued, "calm")

        web.kill()
        down = ctx.rng.uniform(1, 2 if ctx.quick else 5)
        time.sleep(down)
        web, url = _web(instance, port)
        verdict.tried.append(f"web SIGKILLed under the held request, back after {down:.1f} s")
        time.sleep(ctx.rng.uniform(2, 4))  # the agent's backoff brings it back
        issued = time.monotonic()
        schedules.append(_phat_ngay(instance, script, station_id))
        _expect_played(instance, verdict, schedules[-1], issued, "after the drop")

        web.kill()
        issued = time.monotonic()
        schedules.append(_phat_ngay(instance, script, station_id))
        down = ctx.rng.uniform(1, 3)
        time.sleep(down)
        web, url = _web(instance, port)
        verdict.tried.append(f"web SIGKILLed, phát ngay issued while down, back after {down:.1f} s")
        _expect_played(instance, verdict, schedules[-1], issued, "issued while the server was down")
        _settle(instance, verdict, schedules)
        verdict.check(agent.stop() == 0, "the agent did not stop cleanly")
        web.stop()
        log = agent.output()
        verdict.check("push: connection lost" in log, "the agent never saw its connection drop")
    finally:
        instance.close()
    return verdict


# --- many agents at once ------------------------------------------------------------------


def _bulk_stations(instance: Instance, count: int) -> list[tuple[int, str]]:
    """`count` agent stations with tokens, by SQL (the ORM would take a while)."""
    tokens = [f"chaos-push-{i:04d}-{os.urandom(6).hex()}" for i in range(count)]
    with db.session_scope(instance.engine) as session:
        area = session.exec(select(Station.area_id).where(Station.code == CODE)).one()
        now = datetime.now(UTC).isoformat(sep=" ")
        session.execute(
            text(
                "INSERT INTO station (code, name, area_id, timezone, mode, is_active, "
                "created_at, token_hash, token_created_at) VALUES (:code, :name, :area, "
                "'Asia/Ho_Chi_Minh', 'agent', 1, :now, :hash, :now)"
            ),
            [
                {
                    "code": f"CHAOS-{i:04d}",
                    "name": f"Cụm loa {i}",
                    "area": area,
                    "now": now,
                    "hash": hashlib.sha256(token.encode()).hexdigest(),
                }
                for i, token in enumerate(tokens)
            ],
        )
        ids = session.exec(
            select(Station.id).where(Station.code.like("CHAOS-%")).order_by(Station.code)
        ).all()
    return list(zip(ids, tokens, strict=True))


def _push_pool(instance: Instance, port: int) -> subprocess.Popen:
    log = (instance.root / "logs" / f"push-{port}-{time.monotonic_ns()}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(PROJECT_ROOT / "deploy" / "gunicorn-push.conf.py"),
            f"--bind=127.0.0.1:{port}",
            "web.wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env={**instance.env(), "BROADCASTER_API_RATE_PER_MINUTE": "0"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for(lambda: _answers(port) or process.poll() is not None, 60, what="push pool up")
    if process.poll() is not None:
        raise ChaosError("the push pool exited at start")
    return process


def _crash(pool: subprocess.Popen) -> None:
    """SIGKILL the master and its workers together: every held connection cut at once."""
    from pathlib import Path

    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pool.pid:
            os.kill(int(entry.name), signal.SIGKILL)
    pool.send_signal(signal.SIGKILL)
    pool.wait(timeout=10)


def _answers(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def reconnect_storm(ctx) -> Verdict:
    """Hundreds of agents' held connections cut by a push server restart at once: they
    must come back spread out (jitter), and a change then reaches every one exactly once."""
    from broadcaster.stations.agent.client import Client
    from broadcaster.stations.agent.push import PushListener
    from broadcaster.stations.push import wake

    count = 100 if ctx.quick else 500
    verdict = Verdict(f"7. push: {count} agents reconnecting at once after a push server crash")
    instance = Instance(ctx.workdir / "instance", ctx.template)
    attempts: list[float] = []
    told: Counter = Counter()
    lock = threading.Lock()
    try:
        stations = _bulk_stations(instance, count)
        port = free_port()
        pool = _push_pool(instance, port)
        listeners = []

        holding: dict[int, bool] = {}

        class Counted(Client):
            def __init__(self, index: int, *args) -> None:
                super().__init__(*args)
                self.index = index

            def push(self, etag, hold_s, cursor=None):
                with lock:
                    attempts.append(time.monotonic())
                holding[self.index] = True
                try:
                    return super().push(etag, hold_s, cursor)
                finally:
                    holding[self.index] = False

        for index, (_station_id, token) in enumerate(stations):
            listener = PushListener(
                Counted(index, f"http://127.0.0.1:{port}", token),
                etag=lambda: '"stale-at-first"',
                on_topics=lambda topics, index=index: told.update([index]),
            )
            listeners.append(listener)
        for listener in listeners:
            listener.start()
        wait_for(lambda: len(told) == count, 60, what="every listener's first answer")
        # From here on each holds with the ETag its manifest has now.
        for listener, (_station_id, token) in zip(listeners, stations, strict=True):
            listener._etag = _etag_getter(port, token)  # noqa: SLF001 (the agent's store)
        told.clear()
        for listener in listeners:
            listener.synced()
        time.sleep(3.0)
        told.clear()
        verdict.tried.append(f"{count} push listeners (the agent's own) held on a gevent pool")
        _crash(pool)
        cut = time.monotonic()
        with lock:
            attempts.clear()
        time.sleep(1.0)
        pool = _push_pool(instance, port)
        back = time.monotonic()
        time.sleep(1.0)
        wait_for(lambda: all(holding.values()), 60, what="every listener holding again")
        with lock:
            down = sum(1 for t in attempts if t < back)
            times = sorted(t - back for t in attempts if t >= back)
        buckets = Counter(int(t / 0.5) for t in times)
        peak = max(buckets.values()) if buckets else 0
        verdict.tried.append(
            f"push pool and workers SIGKILLed, back after {back - cut:.1f} s ({down} refused "
            f"meanwhile); then {len(times)} reconnects over {times[-1] if times else 0:.1f} s, "
            f"at most {peak} in any half second"
        )
        verdict.check(peak <= max(count // 3, 10), f"a thundering herd: {peak} in half a second")
        time.sleep(1.0)
        with db.session_scope(instance.engine) as session:
            wake(session, station_ids=None)
        issued = time.monotonic()
        try:
            wait_for(lambda: len(told) == count, 30, what="every listener told of the change")
        except ChaosError as exc:
            verdict.problems.append(f"{exc}: {count - len(told)} never told")
        verdict.tried.append(
            f"one change to all: {len(told)} of {count} told within "
            f"{time.monotonic() - issued:.1f} s"
        )
        verdict.check(all(n == 1 for n in told.values()), "a listener was told twice")
        for listener in listeners:
            listener.stop()
        pool.send_signal(signal.SIGTERM)
        pool.wait(timeout=20)
    finally:
        instance.close()
    return verdict


def _etag_getter(port: int, token: str):
    """What the agent's store would hold after its sync: the manifest's ETag, once."""
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/manifest")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        etag = response.headers["ETag"]
    return lambda: etag
