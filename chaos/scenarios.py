"""The fault scenarios. Each runs real processes against a real database and returns a
Verdict: what was tried, and whether every promised play was played once or recorded
as not played with a reason."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from broadcaster.onair.occurrences import GRACE
from chaos.harness import (
    TIMEZONE,
    Browser,
    ChaosError,
    FakeClock,
    HangingTTS,
    Instance,
    SQLiteOutage,
    Verdict,
    free_port,
    http_get,
    tally,
    wait_for,
)

LOCAL_STATIONS = ["HUE-PHU-XUAN", "HUE-THUAN-AN", "HUE-KIM-LONG"]
ZONE = ZoneInfo(TIMEZONE)


@dataclass(frozen=True)
class Context:
    """What a scenario gets: a folder of its own, the demo template, a seeded RNG."""

    workdir: Path
    template: Path
    rng: random.Random
    quick: bool


def fake_day() -> date:
    """A day two days ahead: its slots are in the future for the schedule checks."""
    return (datetime.now(UTC) + timedelta(days=2)).astimezone(ZONE).date()


def at_local(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, clock_time(hour, minute), ZONE).astimezone(UTC)


def hhmm(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%H:%M:%S")


def start_scheduler(instance: Instance):
    proc = instance.start("scheduler", "scheduler", "--player", "null")
    instance.scheduler_ready(proc)
    return proc


def settle(instance: Instance, start: datetime, end: datetime, timeout: float = 90) -> None:
    wait_for(lambda: instance.settled(start, end), timeout, what=f"plays {hhmm(start)} settled")


def settle_the_day(instance, clock, verdict, first, last, *, timeout: float):
    """Past the last slot and its grace window, every play must have an outcome."""
    if clock.now() < last + GRACE:
        clock.set(last + GRACE + timedelta(seconds=5))
    try:
        settle(instance, first, last + timedelta(seconds=1), timeout=timeout)
    except ChaosError as exc:
        verdict.problems.append(str(exc))
    return last


# --- 1. the scheduler killed at random moments through a day ----------------------------

DAY_SLOTS = ["06:00", "06:01", "09:30", "11:00", "17:00", "20:00"]
QUICK_SLOTS = ["06:00", "06:01"]


def scheduler_killed_through_a_day(ctx: Context) -> Verdict:
    """SIGKILL the scheduler at random moments around each slot of a day, then restart it.

    The clock is moved past the quiet hours (never past a slot while the scheduler is
    meant to be up); around each slot it runs at real speed.
    """
    verdict = Verdict("1. scheduler SIGKILLed at random moments through a simulated day")
    day = fake_day()
    slots = QUICK_SLOTS if ctx.quick else DAY_SLOTS
    first = at_local(day, slots[0])
    clock = FakeClock(ctx.workdir / "clock", first - timedelta(minutes=2))
    instance = Instance(ctx.workdir / "instance", ctx.template, clock)
    try:
        stations = instance.stations(LOCAL_STATIONS, mode="local")
        script = instance.approved_script("Thử lỗi: cả ngày")
        instance.schedule(
            script, stations, kind="weekly", weekdays=list(range(7)), times=slots, name="Cả ngày"
        )
        # A second announcement at the same slots at one station waits in its queue: a
        # kill then leaves one play cut off and one claimed but not started.
        instance.schedule(
            script,
            stations[:1],
            kind="weekly",
            weekdays=list(range(7)),
            times=slots,
            name="Bài thứ hai",
        )
        if not ctx.quick:
            instance.schedule(
                script,
                stations[:2],
                kind="once",
                once_at=at_local(day, "09:31").astimezone(ZONE).replace(tzinfo=None),
                name="Một lần",
            )
        verdict.tried.append(
            f"day {day.isoformat()}, {len(LOCAL_STATIONS)} local stations (null player), "
            f"slots {', '.join(slots)}{'' if ctx.quick else ' and a one-off at 09:31'}; "
            f"two announcements per slot at {LOCAL_STATIONS[0]}"
        )
        scheduler = start_scheduler(instance)
        instants = instance.planned_instants(first, first + timedelta(days=1))
        actions = ["calm", "kill, back within grace", "kill, down past grace", "two kills"]
        quick_actions = ["kill, back within grace", "kill, down past grace"]
        for index, at in enumerate(instants):
            if instance.settled(at, at + timedelta(seconds=1)):
                verdict.tried.append(f"{hhmm(at)}: already settled (an earlier outage)")
                continue
            if clock.now() < at - timedelta(seconds=4):
                clock.set(at - timedelta(seconds=4))  # fast-forward through quiet hours
            action = quick_actions[index % 2] if ctx.quick else ctx.rng.choice(actions)
            if action == "calm":
                verdict.tried.append(f"{hhmm(at)}: no fault")
            else:
                # Mostly while the slot's audio plays (about 8 s), sometimes just before.
                kill_at = at + timedelta(seconds=ctx.rng.uniform(-3, 7))
                clock.sleep_until(kill_at)
                scheduler.kill()
                line = f"{hhmm(at)}: SIGKILL at {hhmm(clock.now())}"
                if action == "kill, down past grace":
                    down = timedelta(minutes=ctx.rng.randint(11, 14))
                    clock.jump(down)
                    line += f", down {down.seconds // 60} min (clock moved on)"
                elif action == "two kills":
                    scheduler = instance.start("scheduler", "scheduler", "--player", "null")
                    time.sleep(ctx.rng.uniform(0.3, 3.0))
                    scheduler.kill()
                    line += f", restarted, SIGKILL again at {hhmm(clock.now())} (during start-up)"
                else:
                    time.sleep(ctx.rng.uniform(1, 5))
                    line += f", down {hhmm(clock.now())}"
                scheduler = start_scheduler(instance)
                verdict.tried.append(line + f", restarted at {hhmm(clock.now())}")
            try:
                settle(instance, at, at + timedelta(seconds=1))
            except ChaosError as exc:
                verdict.problems.append(str(exc))
        last = settle_the_day(instance, clock, verdict, first, instants[-1], timeout=90)
        verdict.check(scheduler.stop() == 0, "the scheduler did not stop cleanly at the end")
        tally(instance, verdict, first - timedelta(minutes=1), last + timedelta(minutes=1))
    finally:
        instance.close()
    return verdict


# --- 5. the clock jumping ---------------------------------------------------------------


def clock_jumps(ctx: Context) -> Verdict:
    """Jump the wall clock of the running scheduler forward past slots, then backward."""
    verdict = Verdict("5. the clock jumping forward past slots and backward")
    day = fake_day()
    slots = ["06:00", "06:01", "06:02", "06:20", "06:21"]
    first = at_local(day, "06:00")
    clock = FakeClock(ctx.workdir / "clock", first - timedelta(seconds=8))
    instance = Instance(ctx.workdir / "instance", ctx.template, clock)
    try:
        stations = instance.stations(LOCAL_STATIONS[:2], mode="local")
        script = instance.approved_script("Thử lỗi: đồng hồ")
        instance.schedule(
            script, stations, kind="weekly", weekdays=list(range(7)), times=slots, name="Đồng hồ"
        )
        verdict.tried.append(
            f"day {day.isoformat()}, {len(stations)} local stations, slots {', '.join(slots)}"
        )
        scheduler = start_scheduler(instance)
        settle(instance, first, first + timedelta(seconds=1))
        verdict.tried.append("06:00 played on time")

        target = at_local(day, "06:13") + timedelta(seconds=30)
        verdict.tried.append(
            f"at {hhmm(clock.now())} the clock jumped forward to {hhmm(target)}, past 06:01 and "
            "06:02 and their grace window"
        )
        clock.set(target)
        try:
            settle(instance, first, at_local(day, "06:03"), timeout=100)
        except ChaosError as exc:
            verdict.problems.append(str(exc))

        clock.set(at_local(day, "06:20") - timedelta(seconds=10))
        target = at_local(day, "06:24")
        time.sleep(3)
        verdict.tried.append(
            f"at {hhmm(clock.now())} the clock jumped forward to {hhmm(target)}, past 06:20 "
            "and 06:21 but within their grace window"
        )
        clock.set(target)
        try:
            settle(instance, at_local(day, "06:20"), at_local(day, "06:22"), timeout=60)
        except ChaosError as exc:
            verdict.problems.append(str(exc))

        back = at_local(day, "06:20") + timedelta(seconds=50)
        verdict.tried.append(
            f"at {hhmm(clock.now())} the clock jumped back to {hhmm(back)}, before 06:21 "
            "(already played), and ran past it again"
        )
        clock.set(back)
        try:
            wait_for(
                lambda: (beat := instance.beat()) and back <= beat.seen_at <= clock.now(),
                40,
                what="a scheduler heartbeat after the backward jump",
            )
            verdict.tried.append("the scheduler kept beating after the backward jump")
        except ChaosError as exc:
            verdict.problems.append(str(exc))
        clock.sleep_until(at_local(day, "06:21") + timedelta(seconds=15))
        verdict.check(scheduler.alive(), "the scheduler died")
        verdict.check(scheduler.stop() == 0, "the scheduler did not stop cleanly")
        tally(instance, verdict, first - timedelta(minutes=1), at_local(day, "06:22"))
    finally:
        instance.close()
    return verdict


# --- 2. the database briefly unavailable ------------------------------------------------


def start_web(instance: Instance, port: int):
    proc = instance.start(
        "web",
        "--host=127.0.0.1",
        f"--port={port}",
        "--threads=4",
        "--call",
        "web:create_app",
        module="waitress",
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        if not proc.alive():
            raise ChaosError(f"web exited:\n{proc.output()[-2000:]}")
        try:
            return http_get(url + "/login", timeout=2)[0] == 200
        except OSError:
            return False

    wait_for(up, 60, what="the web answering")
    return proc, url


def start_agent(instance: Instance, url: str, code: str, cache: Path | None = None):
    """The station's agent; a new token each start (the old one stops working)."""
    from broadcaster.core import db
    from broadcaster.core.models import Station
    from broadcaster.stations import api as stationapi

    with db.session_scope(instance.engine) as session:
        station = session.exec(select(Station).where(Station.code == code)).one()
        token = stationapi.rotate_token(session, station)
    cache = cache or instance.root / f"agent-{code}"
    proc = instance.start(
        f"agent-{code}",
        "--server",
        url,
        "--token",
        token,
        "--cache",
        str(cache),
        "--player",
        "null",
        "--sync-interval",
        "1",
        "--heartbeat-interval",
        "1",
        module="broadcaster.stations.agent",
    )
    # Up (signal handlers in place) once it has applied a manifest, cached or fetched.
    wait_for(lambda: "manifest (" in proc.output(), 60, what=f"{proc.name} starting")
    return proc, cache


def database_unavailable(ctx: Context) -> Verdict:
    """Lock the database longer than busy_timeout across a slot, with web, scheduler and
    an agent running; then release it."""
    verdict = Verdict("2. the database briefly unavailable (SQLite write lock held)")
    day = fake_day()
    slots = ["06:00"] if ctx.quick else ["06:00", "06:01"]
    slot = at_local(day, "06:00")
    outage_s = 25  # busy_timeout is 10 s
    clock = FakeClock(ctx.workdir / "clock", slot - timedelta(minutes=5))
    instance = Instance(ctx.workdir / "instance", ctx.template, clock)
    outage = SQLiteOutage(instance.db_path)
    try:
        local = instance.stations(LOCAL_STATIONS[:1], mode="local")
        agent_station = instance.stations(["HUE-THUAN-AN"])
        script = instance.approved_script("Thử lỗi: mất cơ sở dữ liệu")
        instance.schedule(
            script,
            local + agent_station,
            kind="weekly",
            weekdays=list(range(7)),
            times=slots,
            name="Mất CSDL",
        )
        web, url = start_web(instance, free_port())
        scheduler = start_scheduler(instance)
        agent, cache = start_agent(instance, url, "HUE-THUAN-AN")
        wait_for(lambda: list(cache.rglob("*.mp3")), 60, what="the agent caching the audio")
        browser = Browser(url)
        browser.login()
        verdict.check(browser.get("/")[0] == 200, "the dashboard did not load before the outage")
        clock.set(slot - timedelta(seconds=10))
        verdict.tried.append(
            f"day {day.isoformat()}, slots {', '.join(slots)} at a local station and an agent "
            "station; web, scheduler and agent running, the agent has the audio"
        )

        clock.sleep_until(slot - timedelta(seconds=8))
        outage.begin()
        began = clock.now()
        verdict.tried.append(
            f"{hhmm(began)}: another connection holds the database's write lock for "
            f"{outage_s} s (busy_timeout is 10 s), across the 06:00 slot"
        )
        status, page = Browser(url).post_login()
        verdict.tried.append(f"logging in during the outage: HTTP {status}")
        verdict.check(status == 503, f"logging in answered {status} during the outage")
        verdict.check(
            "Cơ sở dữ liệu tạm thời không sẵn sàng" in page,
            "the outage page does not say the database is unavailable",
        )
        verdict.check("Traceback" not in page, "the outage page shows a traceback")
        status, _ = browser.get("/")
        verdict.tried.append(f"dashboard (reads only) during the outage: HTTP {status}")
        verdict.check(status in (200, 503), f"the dashboard answered {status} during the outage")
        clock.sleep_until(began + timedelta(seconds=outage_s))
        outage.end()
        verdict.tried.append(f"{hhmm(clock.now())}: the database is available again")

        status, _ = browser.get("/")
        verdict.check(status == 200, f"the dashboard answered {status} after the outage")
        for proc in (web, scheduler, agent):
            verdict.check(proc.alive(), f"{proc.name} died in the outage")
        last = at_local(day, slots[-1])
        for at in [at_local(day, s) for s in slots]:
            if clock.now() < at - timedelta(seconds=5):
                clock.set(at - timedelta(seconds=5))
                verdict.tried.append(f"clock moved on to {hhmm(clock.now())}")
            try:
                settle(instance, at, at + timedelta(seconds=1), timeout=90)
            except ChaosError as exc:
                verdict.problems.append(str(exc))
        for o in instance.occurrences(slot, slot + timedelta(seconds=1)):
            started = hhmm(o.started_at) if o.started_at else "never"
            where = "the agent" if o.station_id in agent_station else "the scheduler"
            verdict.tried.append(f"06:00 at {where}'s station: started {started}, {o.status!s}")
            if o.station_id in agent_station:
                verdict.check(
                    o.started_at is not None and o.started_at < began + timedelta(seconds=outage_s),
                    "the agent did not play from its cache during the outage",
                )
        recovered = clock.now()
        try:
            wait_for(
                lambda: (beat := instance.beat()) and beat.seen_at >= recovered,
                30,
                what="a scheduler heartbeat after the outage",
            )
        except ChaosError as exc:
            verdict.problems.append(str(exc))
        for proc in (agent, scheduler):
            verdict.check(proc.stop() == 0, f"{proc.name} did not stop cleanly")
        web.stop()  # waitress has no SIGTERM handler: it ends by the signal
        tally(instance, verdict, slot - timedelta(minutes=1), last + timedelta(minutes=1))
    finally:
        try:
            if outage.active:
                outage.end()
        finally:
            instance.close()  # never leave processes behind
    return verdict


# --- 3. disk full during render ---------------------------------------------------------


def store_problems(instance: Instance) -> list[str]:
    """Half-written files in the audio store, and records without their intact file."""
    import hashlib

    from broadcaster.core.models import AudioFile

    problems = [
        f"half-written file left in the store: {path.name}"
        for path in instance.audio_dir.rglob("*")
        if path.is_file() and (path.name.startswith(".") or ".tmp" in path.name)
    ]
    with Session(instance.engine) as session:
        for audio in session.exec(select(AudioFile)):
            path = instance.audio_dir / audio.path
            if not path.is_file():
                problems.append(f"audio record {audio.id} points to a missing file")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != audio.sha256:
                problems.append(f"audio record {audio.id} points to a damaged file")
    return problems


def audio_count(instance: Instance) -> int:
    from broadcaster.core.models import AudioFile

    with Session(instance.engine) as session:
        return len(session.exec(select(AudioFile)).all())


def disk_full_during_render(ctx: Context) -> Verdict:
    """Render into an audio store on a tiny tmpfs that is nearly full, then free it."""
    import subprocess

    verdict = Verdict("3. disk full during render")
    instance = Instance(ctx.workdir / "instance", ctx.template)
    instance.audio_dir.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "chaos-audio", str(instance.audio_dir)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        instance.close()
        raise ChaosError(f"cannot mount a tmpfs (run as root): {mounted.stderr.strip()}")
    try:
        instance.approved_script("Thử lỗi: đầy đĩa một")
        instance.approved_script(
            "Thử lỗi: đầy đĩa hai", body="Thông báo thứ hai: kiểm tra loa lúc sáu giờ."
        )
        filler = instance.audio_dir / "filler"
        with filler.open("wb") as handle:
            try:
                while True:
                    handle.write(b"\0" * 65536)
            except OSError:
                pass  # full
        filler.write_bytes(filler.read_bytes()[:-20_000])  # leave 20 kB: less than one MP3
        verdict.tried.append(
            "audio store on a 2 MB tmpfs filled to 20 kB free; two approved scripts; "
            "`broadcaster render --all-approved`"
        )
        run = instance.command("render", "--all-approved", timeout=300)
        output = run.stdout + run.stderr
        said = [line for line in output.splitlines() if "No space left" in line]
        verdict.tried.append(
            f"render on the full disk: exit {run.returncode}, "
            f"{said[0].strip() if said else 'no disk-full message'}"
        )
        verdict.check(run.returncode != 0, "rendering onto a full disk reported success")
        verdict.check(bool(said), "the render did not say the disk is full")
        verdict.check("Traceback" not in output, "the render printed a traceback")
        verdict.problems += store_problems(instance)
        verdict.check(audio_count(instance) == 0, "audio was recorded although none fit")

        filler.unlink()
        run = instance.command("render", "--all-approved", timeout=300)
        verdict.tried.append(f"space freed, render again: exit {run.returncode}")
        verdict.check(run.returncode == 0, f"the render after freeing space failed: {run.stderr}")
        verdict.check(audio_count(instance) == 2, "not every script has its audio after the retry")
        verdict.problems += store_problems(instance)
    finally:
        instance.close()
        subprocess.run(["umount", "--lazy", str(instance.audio_dir)], capture_output=True)
    return verdict


# --- 4. gTTS hanging --------------------------------------------------------------------


def gtts_hanging(ctx: Context) -> Verdict:
    """Google's endpoint accepts and never answers: renders time out and fall back to
    espeak-ng (or fail clearly when gTTS alone was asked for); the scheduler and the web
    keep working and the slot still plays."""

    verdict = Verdict("4. gTTS hanging")
    tts = HangingTTS(ctx.workdir)
    day = fake_day()
    slot = at_local(day, "06:00")
    clock = FakeClock(ctx.workdir / "clock", slot - timedelta(seconds=60))
    instance = Instance(ctx.workdir / "instance", ctx.template, clock)
    instance.extra_env = {
        "BROADCASTER_TTS_ENGINE": "auto",
        "BROADCASTER_GTTS_URL": tts.url,
        "BROADCASTER_GTTS_CA_BUNDLE": str(tts.ca_bundle),
        "BROADCASTER_GTTS_TIMEOUT": "2",
        "BROADCASTER_GTTS_RETRIES": "1",
    }
    try:
        verdict.tried.append(
            "a loopback TLS stand-in for Google that reads each request and never answers; "
            "gTTS timeout 2 s, 1 retry, engine auto"
        )
        out = instance.root / "out.mp3"
        base = ("render", "--text", "Thử gTTS treo.")
        run = instance.command(*base, "--engine", "gtts", "-o", str(out), timeout=120)
        said = (run.stderr.strip().splitlines() or [""])[-1]
        verdict.tried.append(f"render with gTTS only: exit {run.returncode}, {said[:200]}")
        verdict.check(run.returncode == 1, "a hanging gTTS did not fail the render")
        verdict.check("Traceback" not in run.stderr, "the render printed a traceback")
        verdict.check(not out.exists(), "a failed render left an output file")
        run = instance.command(*base, "-o", str(out), timeout=120)
        verdict.tried.append(f"render with engine auto: exit {run.returncode}, {run.stdout[:120]}")
        verdict.check(run.returncode == 0, f"auto did not fall back to espeak-ng: {run.stderr}")
        verdict.check('"fallback": true' in run.stdout, "the render does not say it fell back")
        verdict.problems += store_problems(instance)
        if ctx.quick:
            return verdict

        clock.set(slot - timedelta(minutes=5))
        local = instance.stations(LOCAL_STATIONS[:1], mode="local")
        script = instance.approved_script("Thử lỗi: gTTS treo")
        instance.schedule(
            script, local, kind="weekly", weekdays=[day.weekday()], times=["06:00"], name="gTTS"
        )
        before = tts.requests
        web, url = start_web(instance, free_port())
        scheduler = start_scheduler(instance)
        verdict.tried.append(
            f"scheduler (rendering ahead through the hanging gTTS) and web started at "
            f"{hhmm(clock.now())}, slot 06:00 at a local station"
        )
        status, _ = http_get(url + "/login", timeout=10)
        verdict.check(status == 200, f"the web answered {status} while gTTS hung")

        def rendered():
            found = instance.occurrences(slot, slot + timedelta(seconds=1))
            return found and all(o.audio_id for o in found)

        wait_for(rendered, 60, what="the slot's audio rendered ahead")
        clock.set(slot - timedelta(seconds=5))
        try:
            settle(instance, slot, slot + timedelta(seconds=1), timeout=90)
        except ChaosError as exc:
            verdict.problems.append(str(exc))
        verdict.tried.append(f"the stand-in received {tts.requests - before} requests from it")
        verdict.check(tts.requests > before, "the scheduler never asked gTTS (test broken)")
        verdict.check(scheduler.stop() == 0, "the scheduler did not stop cleanly")
        web.stop()
        verdict.problems += store_problems(instance)
        tally(instance, verdict, slot - timedelta(minutes=1), slot + timedelta(minutes=1))
    finally:
        tts.close()
        instance.close()
    return verdict


# --- 1b. a station agent killed at random moments ---------------------------------------

AGENT_SLOTS = ["06:00", "06:01", "09:00"]


def agent_killed(ctx: Context) -> Verdict:
    """SIGKILL a station agent around its slots (web and scheduler keep running)."""
    verdict = Verdict("1b. station agent SIGKILLed at random moments")
    day = fake_day()
    first = at_local(day, AGENT_SLOTS[0])
    clock = FakeClock(ctx.workdir / "clock", first - timedelta(minutes=5))
    instance = Instance(ctx.workdir / "instance", ctx.template, clock)
    code = "HUE-THUAN-AN"
    try:
        station = instance.stations([code])
        script = instance.approved_script("Thử lỗi: tắt máy đài")
        instance.schedule(
            script,
            station,
            kind="weekly",
            weekdays=list(range(7)),
            times=AGENT_SLOTS,
            name="Máy đài",
        )
        web, url = start_web(instance, free_port())
        scheduler = start_scheduler(instance)
        agent, cache = start_agent(instance, url, code)
        wait_for(lambda: list(cache.rglob("*.mp3")), 60, what="the agent caching the audio")
        verdict.tried.append(
            f"day {day.isoformat()}, agent station {code} (null player), slots "
            f"{', '.join(AGENT_SLOTS)}; web and scheduler running"
        )
        actions = ["calm", "kill, back within grace", "kill, down past grace"]
        instants = instance.planned_instants(first, first + timedelta(days=1))
        for at in instants:
            if instance.settled(at, at + timedelta(seconds=1)):
                verdict.tried.append(f"{hhmm(at)}: already settled (an earlier outage)")
                continue
            if clock.now() < at - timedelta(seconds=4):
                clock.set(at - timedelta(seconds=4))
            action = ctx.rng.choice(actions)
            if action == "calm":
                verdict.tried.append(f"{hhmm(at)}: no fault")
            else:
                clock.sleep_until(at + timedelta(seconds=ctx.rng.uniform(-2, 6)))
                agent.kill()
                line = f"{hhmm(at)}: agent SIGKILL at {hhmm(clock.now())}"
                if action == "kill, down past grace":
                    down = timedelta(minutes=ctx.rng.randint(11, 13))
                    clock.jump(down)
                    line += f", down {down.seconds // 60} min (clock moved on)"
                else:
                    time.sleep(ctx.rng.uniform(1, 4))
                agent, _ = start_agent(instance, url, code, cache=cache)
                verdict.tried.append(line + f", restarted at {hhmm(clock.now())}")
            try:
                settle(instance, at, at + timedelta(seconds=1), timeout=60)
            except ChaosError as exc:
                verdict.problems.append(str(exc))
        last = settle_the_day(instance, clock, verdict, first, instants[-1], timeout=60)
        for proc in (agent, scheduler):
            verdict.check(proc.stop() == 0, f"{proc.name} did not stop cleanly")
        web.stop()
        tally(instance, verdict, first - timedelta(minutes=1), last + timedelta(minutes=1))
    finally:
        instance.close()
    return verdict
