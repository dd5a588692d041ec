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

from broadcaster.models import Occurrence, PlayEvent
from broadcaster.onair import GRACE
from chaos.harness import (
    TIMEZONE,
    Browser,
    ChaosError,
    FakeClock,
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


def start_scheduler(instance: Instance, verdict: Verdict | None = None):
    proc = instance.start("scheduler", "scheduler", "--player", "null")
    instance.scheduler_ready(proc)
    return proc


def settle(instance: Instance, start: datetime, end: datetime, timeout: float = 90) -> None:
    wait_for(lambda: instance.settled(start, end), timeout, what=f"plays {hhmm(start)} settled")


# --- 1. the scheduler killed at random moments through a day ----------------------------

DAY_SLOTS = ["06:00", "06:01", "06:03", "09:30", "11:00", "11:02", "17:00", "17:01", "20:00"]
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
        instants = sorted({o.at for o in instance.occurrences(first, first + timedelta(days=1))})
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
        # Past the last slot and its grace window: everything must have an outcome.
        last = instants[-1]
        if clock.now() < last + GRACE:
            clock.set(last + GRACE + timedelta(seconds=5))
        try:
            settle(instance, first, last + timedelta(seconds=1), timeout=90)
        except ChaosError as exc:
            verdict.problems.append(str(exc))
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

        back = at_local(day, "06:19") + timedelta(seconds=50)
        verdict.tried.append(
            f"at {hhmm(clock.now())} the clock jumped back to {hhmm(back)}, before 06:20 and "
            "06:21 (already played), and ran past them again"
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
        clock.sleep_until(at_local(day, "06:21") + timedelta(seconds=20))
        verdict.check(scheduler.alive(), "the scheduler died")
        verdict.check(scheduler.stop() == 0, "the scheduler did not stop cleanly")
        tally(instance, verdict, first - timedelta(minutes=1), at_local(day, "06:22"))
    finally:
        instance.close()
    return verdict


def started_events(instance: Instance) -> list[PlayEvent]:
    with Session(instance.engine) as session:
        return list(session.exec(select(PlayEvent).where(PlayEvent.kind == "started")))


def occurrence(instance: Instance, occurrence_id: int) -> Occurrence | None:
    with Session(instance.engine) as session:
        return session.get(Occurrence, occurrence_id)


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


def start_agent(instance: Instance, url: str, code: str):
    from broadcaster import db, stationapi
    from broadcaster.models import Station

    with db.session_scope(instance.engine) as session:
        station = session.exec(select(Station).where(Station.code == code)).one()
        token = stationapi.rotate_token(session, station)
    cache = instance.root / f"agent-{code}"
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
        module="broadcaster.agent",
    )
    return proc, cache


def database_unavailable(ctx: Context) -> Verdict:
    """Lock the database longer than busy_timeout across a slot, with web, scheduler and
    an agent running; then release it."""
    verdict = Verdict("2. the database briefly unavailable (SQLite write lock held)")
    day = fake_day()
    slots = ["06:00"] if ctx.quick else ["06:00", "06:01"]
    slot = at_local(day, "06:00")
    outage_s = 25  # busy_timeout is 10 s
    clock = FakeClock(ctx.workdir / "clock", slot - timedelta(seconds=45))
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
        try:
            settle(instance, slot, last + timedelta(seconds=1), timeout=90)
        except ChaosError as exc:
            verdict.problems.append(str(exc))
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
        if outage.active:
            outage.end()
        instance.close()
    return verdict
