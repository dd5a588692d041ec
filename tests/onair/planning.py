"""What the on-air tests build plans from: schedule specs, UTC instants, their lists."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import HealthCheck, settings

from broadcaster.onair.recurrence import (
    PlannedPlay,
    Priority,
    Recurrence,
    ScheduleSpec,
)

HUE = "Asia/Ho_Chi_Minh"
PROPERTY = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
EVERY_DAY = range(7)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def spec(
    recurrence: Recurrence,
    stations: tuple[int, ...] = (1,),
    *,
    id: int = 1,
    valid_from: date | None = None,
    valid_until: date | None = None,
    priority: Priority = Priority.NORMAL,
) -> ScheduleSpec:
    return ScheduleSpec(
        id=id,
        recurrence=recurrence,
        valid_from=valid_from,
        valid_until=valid_until,
        priority=priority,
        station_ids=stations,
    )


def instants(items: list[PlannedPlay], station_id: int | None = None) -> list[datetime]:
    return [o.at for o in items if station_id is None or o.station_id == station_id]
