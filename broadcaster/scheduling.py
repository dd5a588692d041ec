"""The scheduler service: one APScheduler process per database."""

from __future__ import annotations

import logging
import os
import signal
import socket
from datetime import datetime
from functools import lru_cache

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session

from broadcaster.config import Settings
from broadcaster.db import make_engine, session_scope
from broadcaster.dbtypes import utcnow
from broadcaster.models import ServiceBeat

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
HEARTBEAT_SECONDS = 15
SCHEDULER_SERVICE = "scheduler"


@lru_cache(maxsize=4)
def _engine(database_url: str) -> Engine:
    return make_engine(database_url)


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

    from broadcaster.render import AudioStore, collect_garbage

    with session_scope(_engine(database_url)) as session:
        removed = collect_garbage(
            session=session,
            store=AudioStore(Path(audio_dir)),
            retention=timedelta(days=retention_days),
        )
    if removed:
        log.info("audio store: removed %d unused files", removed)
    return removed


def build_scheduler(settings: Settings) -> BlockingScheduler:
    """APScheduler with its job store in our database (persistent jobs) and one in memory."""
    scheduler = BlockingScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(
                engine=_engine(settings.database_url), tablename=JOBS_TABLE
            ),
            "memory": MemoryJobStore(),
        },
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone="UTC",
    )
    started_at = utcnow()
    scheduler.add_job(
        heartbeat,
        "interval",
        seconds=HEARTBEAT_SECONDS,
        args=[settings.database_url, started_at],
        id="heartbeat",
        jobstore="memory",
        replace_existing=True,
        next_run_time=started_at,
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


def run_scheduler(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT; stops cleanly so no job is cut half-way."""
    # APScheduler logs every run of every job at INFO; the heartbeat would flood the log.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = build_scheduler(settings)

    def stop(signum, _frame):
        log.info("scheduler: signal %s, shutting down", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler: running with job store %s", settings.database_url.split("://")[0])
    scheduler.start()
