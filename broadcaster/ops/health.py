"""Is the service healthy? The database and migrations; the scheduler from its heartbeat.

The scheduler proves it is alive by writing its heartbeat row (table servicebeat) every
BROADCASTER_HEARTBEAT_SECONDS from one of its own jobs; it is stale after three missed
beats. Checking the row rather than a port on the scheduler means one check covers "the
process runs, its job loop turns and it can write to the database", and the web, the CLI
and the dashboard on any machine read the same answer without reaching the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from broadcaster.core.models import ServiceBeat

SCHEDULER_SERVICE = "scheduler"
JOBS_TABLE = "apscheduler_jobs"
STALE_BEATS = 3
# A schedule job still waiting this long after its time was never run: the scheduler's
# job loop is stuck even if the heartbeat (another job) still beats. APScheduler's misfire
# grace (10 min) is the same window.
OVERDUE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Status:
    ok: bool
    reason: str = ""
    details: dict = field(default_factory=dict)

    def as_dict(self, component: str, *, details: bool = True) -> dict:
        body = {"component": component, "status": "ok" if self.ok else "fail"}
        if self.reason:
            body["reason"] = self.reason
        return {**body, **self.details} if details else body


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration shipped with this code (read once per process)."""
    from alembic.script import ScriptDirectory

    from broadcaster.core.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("no migrations shipped with this code")
    return head


def database_status(engine: Engine) -> Status:
    """The database answers and its schema is at this code's head migration."""
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if "alembic_version" in reason:
            return Status(False, "database not migrated: run `broadcaster db upgrade`")
        return Status(False, f"database unavailable: {reason}")
    head = head_revision()
    details = {"migration": current, "head": head}
    if current != head:
        return Status(False, f"database at migration {current}, code expects {head}", details)
    return Status(True, details=details)


def stale_after(heartbeat_seconds: int) -> timedelta:
    return timedelta(seconds=STALE_BEATS * heartbeat_seconds)


def scheduler_status(session: Session, *, now: datetime, heartbeat_seconds: int) -> Status:
    """Healthy while the scheduler's heartbeat is fresh and no schedule job is overdue."""
    beat = session.get(ServiceBeat, SCHEDULER_SERVICE)
    if beat is None:
        return Status(False, "the scheduler has never run against this database")
    age = (now - beat.seen_at).total_seconds()
    details = {
        "pid": beat.pid,
        "hostname": beat.hostname,
        "started_at": beat.started_at.isoformat(),
        "last_beat_at": beat.seen_at.isoformat(),
        "last_beat_age_s": round(age, 1),
        "stale_after_s": stale_after(heartbeat_seconds).total_seconds(),
    }
    jobs, overdue = schedule_jobs(session, now=now)
    details.update(schedule_jobs=jobs, overdue_jobs=overdue)
    if age > stale_after(heartbeat_seconds).total_seconds():
        return Status(False, f"scheduler heartbeat is stale: last seen {age:.0f} s ago", details)
    if overdue:
        return Status(False, f"{overdue} schedule jobs are overdue: the job loop is stuck", details)
    return Status(True, details=details)


def schedule_jobs(session: Session, *, now: datetime) -> tuple[int, int]:
    """(schedule jobs in APScheduler's job store, those past their run time by OVERDUE_AFTER)."""
    try:
        row = (
            session.connection()
            .execute(
                text(
                    f"SELECT COUNT(*), SUM(CASE WHEN next_run_time < :cutoff THEN 1 ELSE 0 END) "
                    f"FROM {JOBS_TABLE}"
                ),
                {"cutoff": (now - OVERDUE_AFTER).timestamp()},
            )
            .one()
        )
    except SQLAlchemyError:
        # The scheduler makes the table on its first start.
        session.rollback()
        return 0, 0
    return int(row[0] or 0), int(row[1] or 0)
