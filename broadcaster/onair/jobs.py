"""The scheduler's jobs: module-level functions that get everything they need as arguments.

APScheduler's guidance: a job is a module-level function with plain arguments. The
persistent "schedule-<id>" jobs (`fire_schedule`) are pickled into the job store, so they
take only strings and ids. The periodic jobs live in the memory store
and receive the settings and the local playout runtime themselves. Each job is one unit of
work that tests call directly.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session

from broadcaster.core.config import Settings
from broadcaster.core.db import make_engine, session_scope
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Occurrence, ServiceBeat
from broadcaster.onair.occurrences import materialize
from broadcaster.ops.health import SCHEDULER_SERVICE

if TYPE_CHECKING:
    from broadcaster.onair.localplayout import Runtime

log = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}


def engine_for(database_url: str) -> Engine:
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
    """Keep the dashboard's view of the scheduler fresh."""
    with session_scope(engine_for(database_url)) as session:
        record_beat(session, name=SCHEDULER_SERVICE, started_at=started_at)


def collect_audio(settings: Settings) -> int:
    """Delete rendered audio nobody has used for the retention period."""
    from broadcaster.audio.objectstore import remote_for
    from broadcaster.audio.render import AudioStore, collect_garbage

    # The bucket (if any) loses what the store loses, or it would grow for ever.
    with session_scope(engine_for(settings.database_url)) as session:
        removed = collect_garbage(
            session=session,
            store=AudioStore(Path(settings.audio_dir), remote_for(settings)),
            retention=timedelta(days=settings.audio_retention_days),
        )
    if removed:
        log.info("audio store: removed %d unused files", removed)
    return removed


def fire_schedule(playout_key: str, schedule_id: int) -> None:
    """The persistent job of one schedule: at each slot, play what is due at local stations.

    Its arguments are all it may carry (it is pickled): the schedule and the key of the
    local playout runtime this process attached for the database (`localplayout`), if it
    plays any local station.
    """
    # Imported here: local playout builds on this module's engines.
    from broadcaster.onair.localplayout import attached

    runtime = attached(playout_key)
    if runtime is not None:
        runtime.dispatch(schedule_id=schedule_id)


def dispatch_all(runtime: Runtime) -> None:
    """Safety net: anything due that a schedule job did not take (e.g. just after a sync)."""
    runtime.dispatch()


def plan_ahead(
    database_url: str, settings: Settings | None = None, schedule_ids: list[int] | None = None
) -> tuple[int, int]:
    """Materialize the next 48 h and, given the settings, render ahead of air time.

    48 h is the manifest's horizon: agents must hold the audio before a link goes down.
    Each render is its own short transaction, so playout events never wait behind it.
    With `schedule_ids`, only those schedules (sync_jobs runs it for the ones just saved).
    Returns (occurrences created, audio files rendered).
    """
    from broadcaster.onair.occurrences import pending_audio, render_one

    now = utcnow()
    engine = engine_for(database_url)
    with session_scope(engine) as session:
        created = materialize(session, now=now, schedule_ids=schedule_ids)
    rendered = 0
    if settings is not None:
        with session_scope(engine, write=False) as session:
            pending = pending_audio(session, now=now, hours=48, schedule_ids=schedule_ids)
        for occurrence_id in pending:
            with session_scope(engine) as session:
                occurrence = session.get(Occurrence, occurrence_id)
                if occurrence is not None and occurrence.audio_id is None:
                    rendered += render_one(session, settings, occurrence, now=now)
    if created or rendered:
        log.info("plan: %d new occurrences, %d rendered", created, rendered)
    return created, rendered


def sweep_missed(database_url: str) -> None:
    """Log the plays whose grace window passed; prune the manifest cache."""
    from broadcaster.onair.occurrences import sweep
    from broadcaster.stations import manifestcache

    engine = engine_for(database_url)
    with session_scope(engine) as session:
        missed = sweep(session, now=utcnow())
    manifestcache.prune(engine)  # push reads the log on PostgreSQL too (migration 0014)
    if missed:
        log.warning("plan: %d occurrences missed their grace window", missed)


def daily_summary_job(settings: Settings) -> None:
    """Each morning: yesterday's misses and the stations offline now, e-mailed."""
    from broadcaster.accountability.alerts import AlertError, daily_summary, send
    from broadcaster.core.config import local_today

    with session_scope(engine_for(settings.database_url), write=False) as session:
        summary = daily_summary(session, day=local_today(settings) - timedelta(days=1))
    log.info("daily summary: %s", summary.subject)
    try:
        if send(settings, summary):
            log.info("daily summary e-mailed to %s", ", ".join(settings.alert_emails))
    except AlertError as exc:
        log.error("daily summary not sent: %s", exc)
