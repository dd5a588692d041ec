"""Playout lateness under load: how long after its instant a play's audio leaves the player.

Used by bench/plan.py. Four figures, each p50/p99 against the 50 ms target:
- local playout (the scheduler's APScheduler schedule job, claims, station queues) with the
  null player (lateness: when the queue released the player, as recorded in `started`),
  and with aplay into ALSA file sinks (when the first bytes reached the sink);
- the station agent (real agent processes playing a cached manifest: timer, cache check,
  queue) with the null player (the agent's own "started" event) and with aplay into file
  sinks (first bytes at the sink).
The sinks are ALSA `type file` PCMs writing into FIFOs (tests/alsasink.py): no sound card
here, and snd-aloop cannot be loaded in this container. While it runs, one busy process
per core does the suite's kind of work: ffmpeg encodes, SQLite commits, the normalizer.

BENCH_CODE_ROOT=/path/to/an/older/checkout measures that code instead (the "before"
figure); what it cannot do (ALSA devices per station) is reported as not measured.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = Path(os.environ.get("BENCH_CODE_ROOT") or ROOT)
TARGET_P99_S = 0.050
LOCAL_NULL = 100  # local stations with the null player, all at one slot
LOCAL_ALSA = 16  # and with aplay, each into its own sink, at the same slot
# Agent processes per player kind, playing at the same instants. A station runs one agent
# on its own machine: four on one machine are four times the contention it would see.
AGENTS = 4
AGENT_PLAYS = 25  # each, one every SPACING_S
# Not a multiple of LEAD: the timer hands over the next play while this one waits, as
# with plays on whole minutes, not at the very instant of a release.
SPACING_S = 2.5
# Longer than the file sink's buffer (aplay's 0.5 s): the ALSA file plugin writes a full
# buffer at a time, so a shorter sound would reach the FIFO only as aplay drains it.
TONE_S = 2.0
NULL_TIME_SCALE = 0.25  # the null player's 2 s in 0.5 s
TEXT = (
    "Sáng 06/12/2026, UBND phường tổ chức tiêm vắc-xin COVID-19 cho 1.250 người tại 15 "
    "Lê Lợi; liên hệ 0234.3822.123 hoặc https://hue.gov.vn. Giá 60.000đ-65.000đ/kg."
)


# --- load ---------------------------------------------------------------------------------


@contextmanager
def busy(workers: int | None = None):
    """One process per core doing the suite's kind of work until the block ends."""
    count = workers or os.cpu_count() or 2
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen([sys.executable, __file__, "busy"], env=env) for _ in range(count)
    ]
    try:
        yield count
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def _busy_loop() -> None:
    from broadcaster.speech.normalize import normalize

    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(f"{folder}/busy.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        while True:
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]
                + ["-i", "sine=f=440:d=4", "-ac", "1", "-b:a", "64k", f"{folder}/b.mp3"],
                check=True,
            )
            for _ in range(20):
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO t (body) VALUES (?)", (TEXT * 20,))
                connection.execute("COMMIT")
            for _ in range(30):
                normalize(TEXT)


# --- figures ------------------------------------------------------------------------------


def summary(label: str, lateness_s: list[float], expected: int) -> bool:
    if not lateness_s:
        print(f"{label}: no play measured")
        return False
    values = sorted(lateness_s)
    p50 = statistics.median(values)
    p99 = values[math.ceil(len(values) * 0.99) - 1]
    print(
        f"{label}, {len(values)} plays: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {values[-1] * 1000:.1f} ms (target p99 {TARGET_P99_S * 1000:.0f} ms) "
        f"ratio {TARGET_P99_S / max(p99, 1e-4):.1f}"
        + (f"  (only {len(values)} of {expected} plays measured)" if len(values) < expected else "")
    )
    return p99 <= TARGET_P99_S and len(values) >= expected


def _sinks(folder: Path, names: list[str]):
    sys.path.insert(0, str(ROOT))  # tests.alsasink is ours, whichever code is measured
    from tests.alsasink import FileSinks

    return FileSinks(folder, names)


def tone(path: Path, seconds: float) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"]
        + ["-i", f"sine=f=660:d={seconds}", "-ar", "44100", "-ac", "1", "-b:a", "64k", str(path)],
        check=True,
    )
    return path


# --- local playout ------------------------------------------------------------------------


def local_playout(folder: Path) -> tuple[list[float], list[float] | None]:
    """(null-player lateness, ALSA sink lateness or None) for one slot of local stations."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from sqlmodel import select

    from broadcaster.core import db
    from broadcaster.core.areas import get_area
    from broadcaster.core.config import load_settings
    from broadcaster.core.dbtypes import utcnow
    from broadcaster.core.models import Area, AreaKind, Occurrence, PlayoutMode, Script
    from broadcaster.newsroom.workflow import add_version
    from broadcaster.onair import localplayout, players
    from broadcaster.onair import occurrences as onair
    from broadcaster.onair import scheduler as scheduling
    from broadcaster.onair.schedules import ScheduleInput, save_schedule
    from broadcaster.ops.demo import seed_demo
    from broadcaster.stations.registry import create_station

    try:
        players.AplayPlayer(device="probe")  # older code: one default device only
        alsa = LOCAL_ALSA
    except TypeError:
        alsa = 0
    count = LOCAL_NULL + alsa
    names = [f"local{i}" for i in range(alsa)]
    sinks = _sinks(folder / "sinks", names) if alsa else None
    if sinks is not None:
        os.environ.update(sinks.env)  # aplay, started by this process, reads it
    settings = load_settings(
        {"BROADCASTER_INSTANCE_DIR": str(folder), "BROADCASTER_AUDIO_DIR": f"{folder}/audio"}
    )
    db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    with db.session_scope(engine) as session:
        seed_demo(session, timezone=settings.timezone)
        hanoi = get_area(session, "Hà Nội")
        communes = session.exec(
            select(Area).where(Area.parent_id == hanoi.id, Area.kind == AreaKind.COMMUNE)
        ).all()[:count]
        stations = [
            create_station(
                session=session,
                code=f"BENCH-{i}",
                commune=commune,
                mode=PlayoutMode.LOCAL,
                timezone=settings.timezone,
            )
            for i, commune in enumerate(communes)
        ]
        script = session.exec(select(Script)).first()
        version = add_version(
            session=session, script=script, body="Thử loa.", voice="central", repeat=1
        )
        version.status = "approved"
        session.flush()
        # The next minute at least 10 s away: the job must be synced before its lead.
        from zoneinfo import ZoneInfo

        slot = (utcnow() + timedelta(seconds=70)).astimezone(ZoneInfo(settings.timezone))
        slot = slot.replace(second=0, microsecond=0, tzinfo=None)
        save_schedule(
            session=session,
            actor=None,
            data=ScheduleInput(
                name="bench",
                script=script,
                kind="once",
                once_at=slot,
                station_ids=[s.id for s in stations],
            ),
        )
        onair.materialize(session, now=utcnow(), hours=1)
        onair.render_due(session, settings, now=utcnow(), hours=1)
    made = iter(names)

    def player():
        # Which station gets which player does not matter: all play at the same slot.
        name = next(made, None)
        if name is None or sinks is None:
            return players.NullPlayer(time_scale=0)
        return players.AplayPlayer(device=sinks.device(name))

    runtime = scheduling.Runtime(settings, player_factory=player)
    trace: dict[str, list[float]] = {"submitted": [], "ready": []}
    if os.environ.get("BENCH_TRACE"):
        record, dispatch = runtime.on_event, runtime.dispatch

        def traced_event(kind, item, detail):
            result = record(kind, item, detail)
            if kind == "ready":
                trace["ready"].append(time.time() - item.at.timestamp())
            return result

        def traced_dispatch(**kwargs):
            began = time.time()
            count = dispatch(**kwargs)
            trace["submitted"].append((began, time.time(), count))
            return count

        runtime.on_event = traced_event
        runtime.dispatch = traced_dispatch
    localplayout.attach(runtime)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_jobstore(
        SQLAlchemyJobStore(engine=engine, tablename=scheduling.JOBS_TABLE), "default"
    )
    scheduler.start()
    scheduling.sync_jobs(scheduler, settings.database_url)
    deadline = time.monotonic() + 150
    rows: list = []
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with db.session_scope(engine) as session:
                rows = session.exec(
                    select(Occurrence).where(Occurrence.started_at.is_not(None))
                ).all()
            if len(rows) == count and runtime_idle(runtime):
                break
        time.sleep(0.5)  # the sink reader reports a play as its player closes the sink
    finally:
        scheduler.shutdown(wait=False)
        runtime.close()
        localplayout.detach(runtime)
        engine.dispose()
    at = rows[0].at if rows else None
    if trace["ready"] and at:  # BENCH_TRACE=1: when the job and READY were done
        ready = sorted(trace["ready"])
        jobs = [
            (round(a - at.timestamp(), 2), round(b - at.timestamp(), 2), n)
            for a, b, n in trace["submitted"]
        ]
        print(
            f"    trace: dispatch (from s, to s, plays) {jobs}; READY done from "
            f"{ready[0]:.2f} to {ready[-1]:.2f} s (median {statistics.median(ready):.2f})"
        )
    alsa_queues = {
        queue for queue in runtime.queues.values() if isinstance(queue._player, players.AplayPlayer)
    }
    null_rows = [o for o in rows if runtime.queues.get(o.station_id) not in alsa_queues]
    null = [(o.started_at - o.at).total_seconds() for o in null_rows]
    heard = None
    if sinks is not None:
        heard = (
            [h.first_at - at.timestamp() for name in names for h in sinks.plays(name)] if at else []
        )
        sinks.close()
    return null, heard


def runtime_idle(runtime) -> bool:
    return all(queue.idle() for queue in runtime.queues.values())


# --- the agent ----------------------------------------------------------------------------


def agent_playout(folder: Path, player: str) -> list[float]:
    """Lateness of AGENTS agent processes x AGENT_PLAYS plays from their cached manifest.

    The server is down (a closed loopback port): agents play from their cache, as they
    must. null: the agent's own "started" time; aplay: first bytes at each agent's sink.
    """
    import hashlib
    import socket

    folder.mkdir(parents=True)
    audio = tone(folder / "tone.mp3", TONE_S)
    data = audio.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connection refused, the server is down
    names = [f"{player}{i}" for i in range(AGENTS)]
    sinks = _sinks(folder / "sinks", names) if player == "aplay" else None
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)  # all started
    instants = [first + timedelta(seconds=i * SPACING_S) for i in range(AGENT_PLAYS)]
    processes = []
    caches = []
    for index, name in enumerate(names):
        cache = folder / name
        (cache / "audio").mkdir(parents=True)
        (cache / "audio" / f"{sha}.mp3").write_bytes(data)
        items = [
            {
                "occurrence_id": index * 1000 + i + 1,
                "at": at.isoformat(),
                "priority": "normal",
                "schedule_id": 1,
                "title": "bench",
                "sha256": sha,
                "size": len(data),
                "duration_s": TONE_S,
                "repeat": 1,
                "audio_url": f"/api/v1/audio/{sha}.mp3",
            }
            for i, at in enumerate(instants)
        ]
        with sqlite3.connect(cache / "agent.db") as connection:
            connection.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            connection.execute(
                "INSERT INTO kv VALUES ('manifest', ?), ('etag', '')",
                (json.dumps({"items": items, "grace_s": 600}),),
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
        env.update(
            PYTHONPATH=str(CODE),
            BROADCASTER_AGENT_TIME_SCALE=str(NULL_TIME_SCALE),
            PYTHONUNBUFFERED="1",
        )
        if sinks is not None:
            env.update(sinks.env_default(name))
        log = (folder / f"{name}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "broadcaster.stations.agent", "--server"]
                + [f"http://127.0.0.1:{port}", "--token", "bench", "--cache", str(cache)]
                + ["--player", player, "--sync-interval", "30", "--heartbeat-interval", "30"],
                env=env,
                cwd=CODE,  # -m looks in the working folder first
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        caches.append(cache)
    try:
        deadline = time.monotonic() + 10 + AGENT_PLAYS * SPACING_S + 30
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if all(len(_outbox(c, "finished")) >= AGENT_PLAYS for c in caches):
                break
        time.sleep(0.5)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
    planned = {index * 1000 + i + 1: at for index in range(AGENTS) for i, at in enumerate(instants)}
    if sinks is None:
        return [
            (datetime.fromisoformat(at) - planned[oid]).total_seconds()
            for cache in caches
            for oid, at in _outbox(cache, "started")
        ]
    # Each sound to the instant it followed (a missing one must not shift the others).
    starts = [at.timestamp() for at in instants]
    heard = [
        h.first_at - max([t for t in starts if t <= h.first_at] or starts[:1])
        for name in names
        for h in sinks.plays(name)
    ]
    sinks.close()
    return heard


def _outbox(cache: Path, kind: str) -> list[tuple[int, str]]:
    try:
        with sqlite3.connect(cache / "agent.db", timeout=5) as connection:
            return connection.execute(
                "SELECT occurrence_id, at FROM outbox WHERE kind = ?", (kind,)
            ).fetchall()
    except sqlite3.OperationalError:
        return []


def playout_lateness() -> bool:
    """Print the four figures; True when every p99 is within the target."""
    sys.path.insert(0, str(CODE))
    ok = True
    with busy() as workers, tempfile.TemporaryDirectory() as folder:
        print(f"playout lateness under load ({workers} busy processes: ffmpeg, SQLite, normalizer)")
        null, heard = local_playout(Path(folder) / "local")
        ok &= summary("  local playout, null player (released)", null, LOCAL_NULL)
        if heard is None:
            print("  local playout, aplay into ALSA file sinks: not measured (one device only)")
        else:
            ok &= summary(
                "  local playout, aplay, first bytes at the ALSA file sink", heard, LOCAL_ALSA
            )
        for player in ("null", "aplay"):
            lateness = agent_playout(Path(folder) / f"agent-{player}", player)
            label = (
                "  agent, null player (its started event)"
                if player == "null"
                else "  agent, aplay, first bytes at the ALSA file sink"
            )
            ok &= summary(label, lateness, AGENTS * AGENT_PLAYS)
    return ok


if __name__ == "__main__":
    if sys.argv[1:] == ["busy"]:
        try:
            _busy_loop()
        except KeyboardInterrupt:
            pass
    else:
        sys.exit(0 if playout_lateness() else 1)
