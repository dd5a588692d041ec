"""The scheduler service: one APScheduler process per database.

Owns the process (`run_scheduler`), the APScheduler it builds (`build_scheduler`), keeping
the job store in step with the schedules table (`sync_jobs`) and noticing the wall clock
jump (`ClockWatch`). The jobs themselves are in `onair.jobs`, local playout in
`onair.localplayout`, the schedules' trigger in `onair.trigger`; their public names are
importable from here too.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlmodel import select

from broadcaster.core.config import Settings
from broadcaster.core.db import saved_id, session_scope
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Schedule, Station
from broadcaster.onair.jobs import (
    collect_audio,
    daily_summary_job,
    dispatch_all,
    dispose_engines,
    engine_for,
    fire_schedule,
    heartbeat,
    plan_ahead,
    record_beat,
    sweep_missed,
)
from broadcaster.onair.localplayout import Runtime, attach, detach, playout_key
from broadcaster.onair.occurrences import GRACE
from broadcaster.onair.releases import ReleaseJournal
from broadcaster.onair.trigger import RecurrenceTrigger
from broadcaster.ops.health import JOBS_TABLE, SCHEDULER_SERVICE

__all__ = [
    "JOBS_TABLE",
    "SCHEDULER_SERVICE",
    "ClockWatch",
    "ResilientScheduler",
    "RecurrenceTrigger",
    "Runtime",
    "build_scheduler",
    "collect_audio",
    "daily_summary_job",
    "dispatch_all",
    "dispose_engines",
    "fire_schedule",
    "heartbeat",
    "plan_ahead",
    "rearm_periodic_jobs",
    "record_beat",
    "run_scheduler",
    "schedule_job_id",
    "sweep_missed",
    "sync_jobs",
]

log = logging.getLogger(__name__)

SYNC_SECONDS = 5
CLOCK_JUMP_SECONDS = 5  # wall-clock drift from the monotonic clock that counts as a jump
# Part of each schedule job's name: a job stored with other arguments or another trigger
# (an older version) differs from what sync_jobs wants, so it is replaced.
JOB_FORMAT = "2"


def schedule_job_id(schedule_id: int) -> str:
    return f"schedule-{schedule_id}"


def sync_jobs(scheduler, database_url: str, settings: Settings | None = None) -> tuple[int, int]:
    """Make the job store match the schedules table: one job per active schedule.

    Runs every few seconds, so a schedule created, changed or removed in the web UI
    takes effect on the running scheduler without a restart. Given the settings, the
    schedules it added or changed are planned and rendered at once, not at the next
    plan-ahead (up to 5 minutes away): a "phát ngay" is in the stations' manifests, and
    pushed to their agents, seconds after the approver issued it. A stored job this version
    cannot restore (its function moved, e.g. from the old broadcaster.scheduling module)
    is dropped by APScheduler as it reads the store, and added again here.
    """
    from broadcaster.onair.schedules import ScheduleError, playable, target_station_ids

    wanted: dict[str, tuple[Schedule, set[str], str]] = {}
    with session_scope(engine_for(database_url), write=False) as session:
        stations = {s.id: s.timezone for s in session.exec(select(Station))}
        for schedule in session.exec(select(Schedule).where(Schedule.is_active.is_(True))):
            if not playable(session, schedule):
                continue
            zones = {stations[i] for i in target_station_ids(session, schedule) if i in stations}
            if zones:
                signature = "|".join(
                    (JOB_FORMAT, schedule.updated_at.isoformat(), ",".join(sorted(zones)))
                )
                wanted[schedule_job_id(schedule.id)] = (schedule, zones, signature)
    changed = removed = 0
    changed_ids: list[int] = []
    existing = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
    for job_id in existing:
        if job_id.startswith("schedule-") and job_id not in wanted:
            scheduler.remove_job(job_id, jobstore="default")
            removed += 1
    for job_id, (schedule, zones, signature) in wanted.items():
        job = existing.get(job_id)
        if job is not None and job.name == signature:
            continue
        try:
            trigger = RecurrenceTrigger.for_schedule(schedule, zones)
        except (ScheduleError, ValueError) as exc:
            log.error(
                "schedule %s cannot be scheduled: %s",
                schedule.id,
                exc,
                extra={"schedule_id": schedule.id},
            )
            continue
        scheduler.add_job(
            fire_schedule,
            trigger,
            args=[playout_key(database_url), schedule.id],
            id=job_id,
            name=signature,
            jobstore="default",
            replace_existing=True,
            misfire_grace_time=int(GRACE.total_seconds()),
            coalesce=True,
        )
        changed += 1
        changed_ids.append(saved_id(schedule))
    if changed_ids and settings is not None:
        # A one-off job (no trigger: it runs once, now) so that this sync, every 5 s, never
        # waits on a render; materialize takes its turn with the plan-ahead job.
        scheduler.add_job(plan_ahead, args=[database_url, settings, changed_ids], jobstore="memory")
    return changed, removed


JOBSTORE_RETRY_SECONDS = 5


class ResilientScheduler(BackgroundScheduler):
    """A BackgroundScheduler whose loop survives its job store's database being away.

    APScheduler 3 retries a failed read of due jobs, but an error while it writes a job's
    next run time escapes its loop and kills the scheduler thread for good: the process
    lives on and never runs a job again. A job whose next run was not saved is simply due
    again on the next round, which is harmless because claims never play anything twice.
    """

    def _process_jobs(self):
        try:
            return super()._process_jobs()
        except Exception:
            log.exception(
                "scheduler: cannot update the job store; retrying in %d s", JOBSTORE_RETRY_SECONDS
            )
            return JOBSTORE_RETRY_SECONDS


def build_scheduler(settings: Settings, runtime: Runtime | None = None) -> BackgroundScheduler:
    """APScheduler with its job store in our database (persistent jobs) and one in memory.

    The periodic jobs get the settings and (for the safety-net dispatcher) the local
    playout `runtime` as arguments; without a runtime nothing plays from this process.
    """
    scheduler = ResilientScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(
                engine=engine_for(settings.database_url), tablename=JOBS_TABLE
            ),
            "memory": MemoryJobStore(),
        },
        executors={"default": ThreadPoolExecutor(max_workers=8)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(GRACE.total_seconds()),
        },
        timezone="UTC",
    )
    started_at = utcnow()
    url = settings.database_url
    memory_jobs = [
        (heartbeat, {"seconds": settings.heartbeat_seconds}, [url, started_at], "heartbeat"),
        (plan_ahead, {"minutes": 5}, [url, settings], "plan-ahead"),
        (sweep_missed, {"minutes": 1}, [url], "sweep-missed"),
    ]
    if runtime is not None:
        memory_jobs.append((dispatch_all, {"seconds": 20}, [runtime], "dispatch-all"))
    for function, interval, args, job_id in memory_jobs:
        scheduler.add_job(
            function,
            "interval",
            args=args,
            id=job_id,
            jobstore="memory",
            replace_existing=True,
            next_run_time=started_at,
            **interval,
        )
    scheduler.add_job(
        sync_jobs,
        "interval",
        seconds=SYNC_SECONDS,
        args=[scheduler, url, settings],
        id="sync-jobs",
        jobstore="memory",
        replace_existing=True,
        next_run_time=started_at,
    )
    scheduler.add_job(
        daily_summary_job,
        "cron",
        hour=7,
        minute=0,
        timezone=ZoneInfo(settings.timezone),
        args=[settings],
        id="daily-summary",
        jobstore="memory",
        replace_existing=True,
        misfire_grace_time=3 * 3600,
    )
    scheduler.add_job(
        collect_audio,
        "cron",
        hour=3,
        minute=17,
        args=[settings],
        id="collect-audio",
        jobstore="memory",
        replace_existing=True,
        misfire_grace_time=6 * 3600,
    )
    return scheduler


class ClockWatch:
    """Notices the wall clock jumping (NTP stepping it, someone setting it by hand)."""

    def __init__(
        self,
        wall: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall, self._monotonic = wall, monotonic
        self._skew = self._measure()

    def _measure(self) -> float:
        return self._wall().timestamp() - self._monotonic()

    def jumped(self) -> float:
        """Seconds the wall clock moved beyond the time that passed since the last call."""
        skew = self._measure()
        delta, self._skew = skew - self._skew, skew
        return delta if abs(delta) >= CLOCK_JUMP_SECONDS else 0.0


def rearm_periodic_jobs(scheduler) -> int:
    """Run the interval jobs now, after the clock jumped.

    APScheduler keeps each job's next run as a wall-clock instant: after the clock goes
    back an hour, the heartbeat, the sweep and the safety-net dispatcher would wait an
    hour (the dashboard would call the scheduler dead); after a jump forward, the sweep
    would skip the misses it should log at once. Schedule jobs are left alone: their
    next run is the next real slot, and claims keep a slot from playing twice.
    """
    from apscheduler.triggers.interval import IntervalTrigger

    now = utcnow()
    jobs = [
        job
        for job in scheduler.get_jobs(jobstore="memory")
        if isinstance(job.trigger, IntervalTrigger)
    ]
    for job in jobs:
        job.modify(next_run_time=now)
    return len(jobs)


def _release_abandoned(engine: Engine, journal: ReleaseJournal) -> None:
    """Before any job runs: settle the plays a previous scheduler process left claimed."""
    from broadcaster.onair.occurrences import local_station_ids, release_abandoned

    with session_scope(engine) as session:
        reopened, interrupted = release_abandoned(
            session,
            now=utcnow(),
            station_ids=local_station_ids(session),
            released=journal.released(),
        )
    journal.begin()  # what it told is settled in the database now
    if reopened or interrupted:
        log.warning(
            "scheduler: a previous run left %d plays claimed but not started (open again) "
            "and %d cut short (logged interrupted)",
            reopened,
            interrupted,
        )


def run_scheduler(settings: Settings, *, player: str = "auto") -> None:
    """Run until SIGTERM or SIGINT; stops cleanly so no job is cut half-way."""
    # APScheduler logs every run of every job at INFO; the heartbeat would flood the log.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    runtime = Runtime(settings, player)
    _release_abandoned(runtime.engine, runtime.journal)
    attach(runtime)  # the persistent schedule jobs play through it
    scheduler = build_scheduler(settings, runtime)

    stop_requested = threading.Event()

    def stop(signum, _frame):
        # Only set a flag: a handler runs between two bytecodes of the main thread, which
        # must not call into APScheduler or the thread pool while either may hold a lock.
        log.info("scheduler: signal %s, shutting down", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler: running with job store %s", settings.database_url.split("://")[0])
    scheduler.start()
    clock = ClockWatch()
    try:
        while not stop_requested.wait(1.0):
            jump = clock.jumped()
            if jump:
                log.warning("scheduler: the wall clock jumped by %+.0f s", jump)
                rearm_periodic_jobs(scheduler)
    finally:
        # wait=False: shutdown(wait=True) holds the job-store lock while it waits for
        # running jobs, and the schedule sync job needs that lock. Running jobs still
        # finish: Python joins the pool's worker threads before the process exits.
        scheduler.shutdown(wait=False)
        detach(runtime)
        runtime.close()
        dispose_engines()
