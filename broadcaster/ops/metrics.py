"""Prometheus metrics: figures from the database at scrape time, API latency per process.

The database figures (plays, stations, render queue, scheduler) are computed when
/metrics is scraped, so every web worker answers the same and nothing is kept in memory.
The API latency histogram lives in each process; under gunicorn with several workers set
PROMETHEUS_MULTIPROC_DIR (an empty directory, emptied at each start) so that prometheus
client keeps it in shared files and any worker's /metrics reports the sum of all.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from broadcaster.core.config import Settings
from broadcaster.core.db import session_scope
from broadcaster.core.models import Occurrence, OccurrenceStatus, PlayoutMode, Station, StationBeat
from broadcaster.onair.occurrences import OPEN, count_pending_audio
from broadcaster.ops.health import scheduler_status
from broadcaster.stations.monitoring import LATE_AFTER, OFFLINE_AFTER

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATION_STATES = ("online", "late", "offline", "never")
RENDER_HORIZON_HOURS = 48  # the manifest's horizon: what agents must already hold

API_LATENCY = Histogram(
    "broadcaster_api_request_duration_seconds",
    "Station API requests: time from the request reaching the app to the response "
    "(for audio, until the file starts to be sent).",
    ["endpoint", "method", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class DatabaseCollector(Collector):
    """Gauges read from the database each time they are collected."""

    def __init__(self, engine: Engine, settings: Settings, clock=None) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def collect(self):
        from broadcaster.core.dbtypes import utcnow

        now = self.clock() if self.clock else utcnow()
        with session_scope(self.engine, write=False) as session:
            yield from self._plays(session, now)
            yield self._stations(session, now)
            render = GaugeMetricFamily(
                "broadcaster_render_queue",
                f"Plays of the next {RENDER_HORIZON_HOURS} h still waiting for their audio.",
            )
            render.add_metric([], count_pending_audio(session, now=now, hours=RENDER_HORIZON_HOURS))
            yield render
            yield from self._scheduler(session, now)

    def _plays(self, session: Session, now: datetime):
        zone = ZoneInfo(self.settings.timezone)
        today = now.astimezone(zone).date()
        start = datetime.combine(today, time(), zone)
        end = start + timedelta(days=1)
        by_status = dict(
            session.exec(
                select(Occurrence.status, func.count())
                .where(Occurrence.at >= start, Occurrence.at < end)
                .group_by(Occurrence.status)
            ).all()
        )
        today_family = GaugeMetricFamily(
            "broadcaster_plays_today",
            f"Plays (occurrences) of today in {self.settings.timezone}, by status.",
            labels=["status"],
        )
        for status in OccurrenceStatus:
            today_family.add_metric([status.value], by_status.get(status.value, 0))
        yield today_family

        def open_between(first: datetime, last: datetime) -> int:
            return session.exec(
                select(func.count())
                .select_from(Occurrence)
                .where(
                    col(Occurrence.status).in_(OPEN),
                    Occurrence.at >= first,
                    Occurrence.at < last,
                )
            ).one()

        due = GaugeMetricFamily(
            "broadcaster_plays_due",
            "Plays not yet started whose time is in the window.",
            labels=["window"],
        )
        due.add_metric(["next_hour"], open_between(now, now + timedelta(hours=1)))
        due.add_metric(["rest_of_today"], open_between(now, max(now, end)))
        yield due

    def _stations(self, session: Session, now: datetime) -> GaugeMetricFamily:
        # The same thresholds as broadcaster.stations.monitoring, counted in SQL: a nation has
        # 100,000 stations and a scrape every 15 s must not load them all.
        state = case(
            (col(StationBeat.seen_at).is_(None), "never"),
            (col(StationBeat.seen_at) < now - OFFLINE_AFTER, "offline"),
            (col(StationBeat.seen_at) < now - LATE_AFTER, "late"),
            else_="online",
        )
        counts = dict(
            session.exec(
                select(state, func.count())
                .select_from(Station)
                .outerjoin(StationBeat, col(StationBeat.station_id) == col(Station.id))
                .where(Station.mode == PlayoutMode.AGENT, col(Station.is_active).is_(True))
                .group_by(state)
            ).all()
        )
        family = GaugeMetricFamily(
            "broadcaster_stations",
            "Active agent stations by health (online, late after 3 min, offline after 15 min "
            "without a heartbeat; never: no heartbeat yet).",
            labels=["state"],
        )
        for name in STATION_STATES:
            family.add_metric([name], counts.get(name, 0))
        return family

    def _scheduler(self, session: Session, now: datetime):
        status = scheduler_status(
            session, now=now, heartbeat_seconds=self.settings.heartbeat_seconds
        )
        up = GaugeMetricFamily(
            "broadcaster_scheduler_up", "1 while the scheduler's heartbeat is fresh, else 0."
        )
        up.add_metric([], 1 if status.ok else 0)
        yield up
        if "last_beat_age_s" in status.details:
            age = GaugeMetricFamily(
                "broadcaster_scheduler_heartbeat_age_seconds",
                "Seconds since the scheduler's last heartbeat.",
            )
            age.add_metric([], status.details["last_beat_age_s"])
            yield age
            jobs = GaugeMetricFamily(
                "broadcaster_scheduler_jobs",
                "Schedule jobs in the scheduler's job store, and those overdue.",
                labels=["state"],
            )
            jobs.add_metric(["scheduled"], status.details["schedule_jobs"])
            jobs.add_metric(["overdue"], status.details["overdue_jobs"])
            yield jobs


class _ThisProcess(Collector):
    """The default registry (API latency, process and Python figures) of this process."""

    def collect(self):
        yield from REGISTRY.collect()


def exposition(engine: Engine, settings: Settings, clock=None) -> bytes:
    """The text a Prometheus scrape of this process gets."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector(engine, settings, clock))
    return generate_latest(registry)
