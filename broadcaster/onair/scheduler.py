"""The scheduler service: one APScheduler process per database."""

from __future__ import annotations

import logging
import os
import signal
import socket
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
from sqlmodel import Session, select

from broadcaster.core.config import Settings
from broadcaster.core.db import make_engine, session_scope
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    PlayoutMode,
    Schedule,
    ServiceBeat,
    Station,
)
from broadcaster.onair.occurrences import GRACE, materialize
from broadcaster.onair.playout import Cue, PlayoutQueue
from broadcaster.ops.health import JOBS_TABLE, SCHEDULER_SERVICE

log = logging.getLogger(__name__)

SYNC_SECONDS = 5
EVENT_RETRY_SECONDS = 2
CLOCK_JUMP_SECONDS = 5  # wall-clock drift from the monotonic clock that counts as a jump


_engines: dict[str, Engine] = {}


def _engine(database_url: str) -> Engine:
    """One engine per database for all of this process's jobs (they are called with a URL)."""
    engine = _engines.get(database_url)
    if engine is None:
        engine = _engines.setdefault(database_url, make_engine(database_url))
    return engine


def dispose_engines() -> None:
    """Close the jobs' pooled connections (a database server keeps each one open)."""
    while _engines:
        _engines.popitem()[1].dispose()


def record_beat(session: Session, *, name: str, started_at: datetime) -> ServiceBeat:
    """Say that service `name` is alive now."""
    beat = session.get(ServiceBeat, name) or ServiceBeat(
        name=name, pid=os.getpid(), started_at=started_at, seen_at=started_at
    )
    beat.pid = os.getpid()
    beat.hostname = socket.gethostname()[:128]
    beat.started_at = started_at
    beat.seen_at = utcnow()
    session.add(beat)
    return beat


def heartbeat(database_url: str, started_at: datetime) -> None:
    """Scheduler job: keep the dashboard's view of the scheduler fresh."""
    with session_scope(_engine(database_url)) as session:
        record_beat(session, name=SCHEDULER_SERVICE, started_at=started_at)


def collect_audio(database_url: str, audio_dir: str, retention_days: int) -> int:
    """Scheduler job: delete rendered audio nobody has used for the retention period."""
    from datetime import timedelta
    from pathlib import Path

    from broadcaster.audio.objectstore import remote_for
    from broadcaster.audio.render import AudioStore, collect_garbage

    # The bucket (if any) loses what the store loses, or it would grow for ever.
    remote = remote_for(_runtime.settings) if _runtime is not None else None
    with session_scope(_engine(database_url)) as session:
        removed = collect_garbage(
            session=session,
            store=AudioStore(Path(audio_dir), remote),
            retention=timedelta(days=retention_days),
        )
    if removed:
        log.info("audio store: removed %d unused files", removed)
    return removed


class Runtime:
    """What the scheduler's jobs share inside one process: settings and local playout.

    Jobs in the persistent job store hold only ids (they must pickle); they find the
    engine, the settings and the station queues here.
    """

    def __init__(
        self, settings: Settings, player_name: str = "auto", player_factory=None, clock=None
    ) -> None:
        from broadcaster.onair.playout import make_player

        self.settings = settings
        self.clock = clock or utcnow  # injected in tests to replay a day in seconds
        self.engine = _engine(settings.database_url)
        self._make_player = player_factory or (lambda: make_player(player_name))
        self.queues: dict[int, PlayoutQueue] = {}
        self.lock = threading.Lock()
        self.closing = threading.Event()

    def queue_for(self, station_id: int) -> PlayoutQueue:
        with self.lock:
            if station_id not in self.queues:
                self.queues[station_id] = PlayoutQueue(
                    self._make_player(),
                    lambda kind, item, detail: self.on_event(kind, item, detail),
                    name=str(station_id),
                )
            return self.queues[station_id]

    def on_event(self, kind: str, item: Cue, detail: str) -> bool:
        """Record a play event; False tells the queue not to play the item after all.

        "started" is durable before the audio begins, or a restart would play it again.
        While the database is unavailable the station's queue waits here; an item whose
        grace window passed meanwhile is logged not played instead of going out late.
        """
        from sqlalchemy.exc import OperationalError

        from broadcaster.onair.occurrences import GRACE, Outcome, apply_outcome, missed_reason

        station_id = None
        while True:
            now = self.clock()
            outcome = Outcome(kind, detail)
            if kind == "started" and now - item.at > GRACE:
                outcome = Outcome("skipped", missed_reason(PlayoutMode.LOCAL))
            try:
                with session_scope(self.engine) as session:
                    occurrence = session.get(Occurrence, item.occurrence_id)
                    if occurrence is not None:
                        station_id = occurrence.station_id
                        apply_outcome(session, occurrence, outcome, at=now, actor="scheduler")
                break
            except OperationalError as exc:
                if self.closing.is_set():
                    raise
                log.error(
                    "playout: cannot record %s for occurrence %s yet: %s",
                    kind,
                    item.occurrence_id,
                    exc.orig,
                )
                self.closing.wait(EVENT_RETRY_SECONDS)
        log.info(
            "playout: occurrence %s %s %s",
            item.occurrence_id,
            outcome.kind,
            outcome.detail,
            extra={
                "occurrence_id": item.occurrence_id,
                "station_id": station_id,
                "event": outcome.kind,
            },
        )
        return outcome.kind == kind

    def dispatch(self, *, now: datetime | None = None, schedule_id: int | None = None) -> int:
        """Play every due occurrence of the local stations (of one schedule, or all)."""
        from broadcaster.audio.objectstore import RemoteError
        from broadcaster.audio.render import RenderError, store_for
        from broadcaster.onair.occurrences import claim, due, local_station_ids, render_occurrence

        now = now or self.clock()
        store = store_for(self.settings)
        submitted = 0
        with session_scope(self.engine) as session:
            stations = local_station_ids(session)
            if not stations:
                return 0
            if schedule_id is not None:
                materialize(session, now=now, hours=0.1, schedule_ids=[schedule_id])
            for occurrence in due(session, now=now, station_ids=stations, schedule_id=schedule_id):
                if not claim(session, occurrence.id, now=now):
                    continue  # someone else (another job run) has it
                try:
                    audio = (
                        session.get(AudioFile, occurrence.audio_id)
                        if occurrence.audio_id
                        else render_occurrence(session, self.settings, occurrence)
                    )
                    path = store.local(audio) or store.absolute(audio.path)
                except (RenderError, RemoteError) as exc:
                    from broadcaster.onair.occurrences import Outcome, apply_outcome

                    apply_outcome(
                        session,
                        occurrence,
                        Outcome("failed", f"no audio: {exc}"),
                        at=now,
                        actor="scheduler",
                    )
                    continue
                occurrence.audio_id = audio.id
                session.add(occurrence)
                schedule = session.get(Schedule, occurrence.schedule_id)
                item = Cue(
                    at=occurrence.at,
                    rank=-occurrence.priority,
                    schedule_id=occurrence.schedule_id,
                    occurrence_id=occurrence.id,
                    path=path,
                    duration_s=audio.duration_s,
                    repeat=schedule.repeat if schedule else 1,
                )
                session.commit()  # the claim and the audio are durable before anything plays
                self.queue_for(occurrence.station_id).submit(item)
                submitted += 1
        return submitted

    def close(self) -> None:
        self.closing.set()
        for queue in self.queues.values():
            queue.close()


_runtime: Runtime | None = None


def fire_schedule(schedule_id: int) -> None:
    """The job of one schedule: at each of its slots, play what is due at local stations."""
    if _runtime is not None:
        _runtime.dispatch(schedule_id=schedule_id)


def dispatch_all() -> None:
    """Safety net: anything due that a schedule job did not take (e.g. just after a sync)."""
    if _runtime is not None:
        _runtime.dispatch()


def plan_ahead(database_url: str) -> None:
    """Scheduler job: materialize the next 48 h and render ahead of air time.

    48 h is the manifest's horizon: agents must hold the audio before a link goes down.
    Each render is its own short transaction, so playout events never wait behind it.
    """
    from broadcaster.onair.occurrences import pending_audio, render_one

    now = utcnow()
    engine = _engine(database_url)
    with session_scope(engine) as session:
        created = materialize(session, now=now)
    rendered = 0
    if _runtime is not None:
        with session_scope(engine, write=False) as session:
            pending = pending_audio(session, now=now, hours=48)
        for occurrence_id in pending:
            with session_scope(engine) as session:
                occurrence = session.get(Occurrence, occurrence_id)
                if occurrence is not None and occurrence.audio_id is None:
                    rendered += render_one(session, _runtime.settings, occurrence, now=now)
    if created or rendered:
        log.info("plan: %d new occurrences, %d rendered", created, rendered)


def sweep_missed(database_url: str) -> None:
    from broadcaster.onair.occurrences import sweep
    from broadcaster.stations import manifestcache

    engine = _engine(database_url)
    with session_scope(engine) as session:
        missed = sweep(session, now=utcnow())
    if engine.dialect.name == "sqlite":
        manifestcache.prune(engine)
    if missed:
        log.warning("plan: %d occurrences missed their grace window", missed)


def daily_summary_job(database_url: str) -> None:
    """Scheduler job, each morning: yesterday's misses and the stations offline now."""
    from datetime import timedelta

    from broadcaster.accountability.alerts import AlertError, daily_summary, send
    from broadcaster.core.config import local_today

    if _runtime is None:
        return
    settings = _runtime.settings
    with session_scope(_engine(database_url), write=False) as session:
        summary = daily_summary(session, day=local_today(settings) - timedelta(days=1))
    log.info("daily summary: %s", summary.subject)
    try:
        if send(settings, summary):
            log.info("daily summary e-mailed to %s", ", ".join(settings.alert_emails))
    except AlertError as exc:
        log.error("daily summary not sent: %s", exc)


def triggers_for(schedule: Schedule, zones: set[str]):
    """APScheduler triggers firing at every slot of `schedule` in each station time zone."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from broadcaster.onair.schedules import recurrence_of

    recurrence = recurrence_of(schedule)
    day_names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    triggers = []
    for zone in sorted(zones):
        tz = ZoneInfo(zone)
        if recurrence.kind == "once":
            triggers.append(DateTrigger(run_date=recurrence.once_at.replace(tzinfo=tz)))
            continue
        for slot in recurrence.times:
            if recurrence.kind == "weekly":
                days = ",".join(day_names[d] for d in sorted(recurrence.weekdays))
                triggers.append(
                    CronTrigger(day_of_week=days, hour=slot.hour, minute=slot.minute, timezone=tz)
                )
            else:
                anchor = datetime.combine(recurrence.anchor, slot, tz)
                triggers.append(
                    IntervalTrigger(days=recurrence.every_days, start_date=anchor, timezone=tz)
                )
    if len(triggers) == 1:
        return triggers[0]
    return OrTrigger(triggers)


def schedule_job_id(schedule_id: int) -> str:
    return f"schedule-{schedule_id}"


def sync_jobs(scheduler, database_url: str) -> tuple[int, int]:
    """Make the job store match the schedules table: one job per active schedule.

    Runs every few seconds, so a schedule created, changed or removed in the web UI
    takes effect on the running scheduler without a restart.
    """
    from broadcaster.onair.schedules import ScheduleError, target_station_ids, version_for

    wanted: dict[str, tuple[Schedule, set[str], str]] = {}
    with session_scope(_engine(database_url), write=False) as session:
        stations = {s.id: s.timezone for s in session.exec(select(Station))}
        for schedule in session.exec(select(Schedule).where(Schedule.is_active.is_(True))):
            if version_for(session, schedule) is None:
                continue
            zones = {stations[i] for i in target_station_ids(session, schedule) if i in stations}
            if zones:
                signature = f"{schedule.updated_at.isoformat()}|{','.join(sorted(zones))}"
                wanted[schedule_job_id(schedule.id)] = (schedule, zones, signature)
    changed = removed = 0
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
            trigger = triggers_for(schedule, zones)
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
            args=[schedule.id],
            id=job_id,
            name=signature,
            jobstore="default",
            replace_existing=True,
            misfire_grace_time=int(GRACE.total_seconds()),
            coalesce=True,
        )
        changed += 1
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


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    """APScheduler with its job store in our database (persistent jobs) and one in memory."""
    scheduler = ResilientScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(
                engine=_engine(settings.database_url), tablename=JOBS_TABLE
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
        (plan_ahead, {"minutes": 5}, [url], "plan-ahead"),
        (sweep_missed, {"minutes": 1}, [url], "sweep-missed"),
        (dispatch_all, {"seconds": 20}, [], "dispatch-all"),
    ]
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
        args=[scheduler, url],
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
        args=[url],
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
        args=[settings.database_url, str(settings.audio_dir), settings.audio_retention_days],
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


def _release_abandoned(engine: Engine) -> None:
    """Before any job runs: settle the plays a previous scheduler process left claimed."""
    from broadcaster.onair.occurrences import local_station_ids, release_abandoned

    with session_scope(engine) as session:
        reopened, interrupted = release_abandoned(
            session, now=utcnow(), station_ids=local_station_ids(session)
        )
    if reopened or interrupted:
        log.warning(
            "scheduler: a previous run left %d plays claimed but not started (open again) "
            "and %d cut short (logged interrupted)",
            reopened,
            interrupted,
        )


def run_scheduler(settings: Settings, *, player: str = "auto") -> None:
    """Run until SIGTERM or SIGINT; stops cleanly so no job is cut half-way."""
    global _runtime
    # APScheduler logs every run of every job at INFO; the heartbeat would flood the log.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    _runtime = Runtime(settings, player)
    _release_abandoned(_runtime.engine)
    scheduler = build_scheduler(settings)

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
        _runtime.close()
        dispose_engines()
