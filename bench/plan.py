"""Planning speed: recurring schedules → a week of concrete plays for every station.

Two schedules of two times each (06:00 + 17:00 normal, 06:30 + 17:30 priority), all
stations, 4 slots a day, 7 days from a Monday. 99% of stations are in Asia/Ho_Chi_Minh, 1%
spread over other zones (two of them observe DST). Targets: 3,321 stations (Huế-scale
commune systems) in 1 s; 100,000 stations in 30 s. "ratio" is the headroom, target / time.
The time is the median of a few runs of `occurrences()` alone (the StationTZ values are
built beforehand, as the caller would from the database); peak memory is measured in a
separate run under tracemalloc, which slows allocation, and is mostly the result list.

The reference figure is the naive way: one APScheduler 3.x CronTrigger per station and
schedule, iterated with get_next_fire_time. Its plays are checked equal to ours.

Then playout lateness (bench/_lateness.py): p50/p99 of how long after its instant a
play's audio leaves the player, on the scheduler's local playout and on the agent, with
the null player and with aplay into ALSA file sinks, the machine kept busy meanwhile;
target p99 50 ms.

Run: .venv/bin/python bench/plan.py   (exits 1 if a target is missed)
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = "Asia/Ho_Chi_Minh"
ELSEWHERE = ("Asia/Bangkok", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
START = datetime(2026, 12, 6, 17, tzinfo=UTC)  # Monday 07/12/2026 00:00 in Huế
DAYS = 7
SLOTS = (("6,17", "0", 0), ("6,17", "30", 1))  # cron hour, minute, priority per schedule


def stations(count: int, StationTZ) -> list:
    return [
        StationTZ(i, ELSEWHERE[(i // 100) % len(ELSEWHERE)] if i % 100 == 0 else HOME)
        for i in range(1, count + 1)
    ]


def specs(station_list: list, Recurrence, ScheduleSpec, Priority) -> list:
    ids = tuple(s.id for s in station_list)
    return [
        ScheduleSpec(
            id=1,
            recurrence=Recurrence.weekly(range(7), ["06:00", "17:00"]),
            priority=Priority.NORMAL,
            station_ids=ids,
        ),
        ScheduleSpec(
            id=2,
            recurrence=Recurrence.weekly(range(7), ["06:30", "17:30"]),
            priority=Priority.PRIORITY,
            station_ids=ids,
        ),
    ]


def measure(plan, runs: int) -> tuple[float, float, list]:
    """(median seconds, peak MB under tracemalloc, result)."""
    times = []
    result: list = []
    for _ in range(runs):
        result = []
        gc.collect()
        started = time.perf_counter()
        result = plan()
        times.append(time.perf_counter() - started)
    del result
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = plan()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return statistics.median(times), peak, result


def apscheduler_plan(station_list: list, end: datetime) -> list[tuple[datetime, int, int]]:
    """The naive reference: a CronTrigger per (station, schedule), iterated."""
    from apscheduler.triggers.cron import CronTrigger

    plays = []
    for station in station_list:
        for schedule_id, (hour, minute, _) in enumerate(SLOTS, start=1):
            trigger = CronTrigger(hour=hour, minute=minute, timezone=station.timezone)
            previous, now = None, START
            while (fire := trigger.get_next_fire_time(previous, now)) and fire < end:
                plays.append((fire.astimezone(UTC), station.id, schedule_id))
                previous, now = fire, fire + timedelta(seconds=1)
    return plays


def main() -> int:
    # Running as a script puts bench/ on sys.path, not the repository root.
    sys.path.insert(0, str(ROOT))
    from broadcaster.onair.planner import occurrences
    from broadcaster.onair.recurrence import Priority, Recurrence, ScheduleSpec, StationTZ

    end = START + timedelta(days=DAYS)
    ok = True
    small: list = []
    for count, target, runs in ((3_321, 1.0, 5), (100_000, 30.0, 3)):
        station_list = stations(count, StationTZ)
        schedule_list = specs(station_list, Recurrence, ScheduleSpec, Priority)
        seconds, peak, result = measure(
            lambda sl=schedule_list, st=station_list: occurrences(sl, st, START, end), runs
        )
        expected = count * DAYS * 4
        if len(result) != expected:
            print(f"plan {count:,}: {len(result):,} plays, expected {expected:,}")
            ok = False
        print(
            f"plan {count:,} stations x {DAYS} days: {seconds:.2f} s, peak {peak:.0f} MB "
            f"(target {target:g} s) ratio {target / seconds:.1f}  [{len(result):,} plays]"
        )
        ok = ok and seconds <= target
        if count == 3_321:
            small = [(o.at, o.station_id, o.schedule_id) for o in result]
            small_stations, small_seconds = station_list, seconds
        del result
        gc.collect()

    started = time.perf_counter()
    reference = apscheduler_plan(small_stations, end)
    naive = time.perf_counter() - started
    same = sorted(reference) == sorted(small)
    print(
        f"reference: APScheduler CronTrigger.get_next_fire_time per station, "
        f"{len(small_stations):,} stations x {DAYS} days: {naive:.2f} s "
        f"({naive / small_seconds:.0f}x ours), same plays: {'yes' if same else 'NO'}"
    )
    # Playout lateness (where the audio leaves the player, under load): bench/_lateness.py.
    sys.path.insert(0, str(ROOT / "bench"))
    from _lateness import playout_lateness

    lateness_ok = playout_lateness()
    return 0 if ok and same and lateness_ok else 1


if __name__ == "__main__":
    sys.exit(main())
