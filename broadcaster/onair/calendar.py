"""The week calendar: what is planned and what happened per day, with conflicts numbered.

It owns the computation behind the calendar pages and a schedule's "next plays" preview:
pure functions over a session that return plain dataclasses (one `CalendarRow` per play at
a station, one `AreaRow` per schedule and instant across an area's stations). The web only
renders them; wording (status labels, reasons in Vietnamese) stays with the caller.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from broadcaster.core.areas import communes_of
from broadcaster.core.models import (
    Area,
    Occurrence,
    Schedule,
    Script,
    ScriptVersion,
    Station,
    StreamSource,
)
from broadcaster.onair.occurrences import GRACE, OPEN
from broadcaster.onair.planner import conflicts
from broadcaster.onair.recurrence import PlannedPlay
from broadcaster.onair.schedules import plan
from broadcaster.onair.wording import DAY_NAMES


def day_name(weekday: int, lang: str = "vi") -> str:
    """ "Thứ 2" ... "Chủ nhật" (or "Monday" ... "Sunday" for `lang="en"`)."""
    return DAY_NAMES.get(lang, DAY_NAMES["vi"])[weekday]


def day_label(day: date, lang: str = "vi") -> str:
    """ "Thứ 4, 02/12/2026": how the calendar heads a day."""
    return f"{day_name(day.weekday(), lang)}, {day.strftime('%d/%m/%Y')}"


@dataclass
class CalendarRow:
    """One play at one station: planned, happened, or both."""

    at: datetime
    station: Station
    schedule: Schedule | None
    schedule_id: int
    script_title: str
    priority: int
    status: str
    late: bool = False
    reason: str = ""
    started_at: datetime | None = None
    order: int = 0  # position in its conflict group (1 plays first); 0 when alone
    group_size: int = 1
    relay: bool = False  # script_title is then the stream's name

    @property
    def key(self) -> tuple[int, int, datetime]:
        return (self.schedule_id, self.station.id, self.at)


@dataclass
class AreaRow:
    """One schedule at one instant across the stations of an area."""

    at: datetime
    schedule: Schedule | None
    schedule_id: int
    script_title: str
    priority: int
    stations: int = 0
    statuses: Counter = field(default_factory=Counter)
    conflicted: int = 0  # stations where this play shares its minute with another
    orders: set = field(default_factory=set)
    reasons: list = field(default_factory=list)
    relay: bool = False


@dataclass(frozen=True)
class Week:
    """Monday to Sunday in one time zone, and the UTC-comparable bounds of it."""

    monday: date
    days: tuple[date, ...]
    start: datetime
    end: datetime


def week_of(day: date, zone: ZoneInfo) -> Week:
    monday = day - timedelta(days=day.weekday())
    return Week(
        monday=monday,
        days=tuple(monday + timedelta(days=i) for i in range(7)),
        start=datetime.combine(monday, time(), zone),
        end=datetime.combine(monday + timedelta(days=7), time(), zone),
    )


def calendar_rows(
    session: Session,
    stations: list[Station],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    describe_reason: Callable[[str], str] = str,
) -> list[CalendarRow]:
    """What will play (the plan) merged with what did (occurrences), conflicts numbered.

    A planned play not yet recorded is "upcoming", or "unrecorded" once its grace has
    passed; a recorded one carries its occurrence's status. `describe_reason` turns the
    English reason the scheduler wrote into the caller's language.
    """
    by_id = {s.id: s for s in stations}
    if not by_id:
        return []
    rows: dict[tuple[int, int, datetime], CalendarRow] = {}
    for play in plan(session, start, end, station_ids=list(by_id)):
        row = CalendarRow(
            at=play.at,
            station=play.station,
            schedule=play.schedule,
            schedule_id=play.schedule.id,
            script_title=play.title,
            priority=play.priority,
            status="upcoming" if play.at >= now - GRACE else "unrecorded",
            relay=play.stream is not None,
        )
        rows[row.key] = row
    occurrences = session.exec(
        select(Occurrence).where(
            col(Occurrence.station_id).in_(list(by_id)),
            Occurrence.at >= start,
            Occurrence.at < end,
        )
    ).all()
    versions: dict[int, ScriptVersion | None] = {}
    titles: dict = {}  # script id, or ("stream", id), -> title
    for occurrence in occurrences:
        key = (occurrence.schedule_id, occurrence.station_id, occurrence.at)
        row = rows.get(key)
        if row is None:
            # Not (or no longer) in the plan: a future open one will be removed by the
            # scheduler and never plays; anything that started or is past still shows.
            if occurrence.status in OPEN and occurrence.at > now:
                continue
            schedule = session.get(Schedule, occurrence.schedule_id)
            if occurrence.version_id not in versions:
                versions[occurrence.version_id] = (
                    session.get(ScriptVersion, occurrence.version_id)
                    if occurrence.version_id
                    else None
                )
            version = versions[occurrence.version_id]
            relay = schedule is not None and schedule.stream_id is not None
            if relay:
                title = _stream_name(session, schedule.stream_id, titles)
            else:
                script_id = version.script_id if version else (schedule.script_id or 0)
                if script_id not in titles:
                    script = session.get(Script, script_id)
                    titles[script_id] = script.title if script else "—"
                title = titles[script_id]
            row = CalendarRow(
                at=occurrence.at,
                station=by_id[occurrence.station_id],
                schedule=schedule,
                schedule_id=occurrence.schedule_id,
                script_title=title,
                priority=occurrence.priority,
                status="",
                relay=relay,
            )
            rows[key] = row
        row.status = occurrence.status
        row.priority = occurrence.priority
        row.late = occurrence.late
        row.reason = describe_reason(occurrence.reason or "")
        row.started_at = occurrence.started_at
    slots = [
        PlannedPlay(
            at=r.at, station_id=r.station.id, schedule_id=r.schedule_id, priority=r.priority
        )
        for r in rows.values()
    ]
    for group in conflicts(slots):
        for position, item in enumerate(group, start=1):
            row = rows[(item.schedule_id, item.station_id, item.at)]
            row.order, row.group_size = position, len(group)
    return sorted(rows.values(), key=lambda r: (r.at, r.station.code, -r.priority, r.schedule_id))


def station_days(
    rows: list[CalendarRow], days: tuple[date, ...], zone: ZoneInfo
) -> dict[date, list[CalendarRow]]:
    """A station's rows by local day, in play order."""
    out: dict[date, list[CalendarRow]] = {day: [] for day in days}
    for row in rows:
        out.setdefault(row.at.astimezone(zone).date(), []).append(row)
    return out


def area_days(
    rows: list[CalendarRow], days: tuple[date, ...], zone: ZoneInfo
) -> dict[date, list[AreaRow]]:
    """Rows of many stations folded into one per schedule and instant, by local day."""
    grouped: dict[tuple[datetime, int], AreaRow] = {}
    for row in rows:
        item = grouped.get((row.at, row.schedule_id))
        if item is None:
            item = grouped[(row.at, row.schedule_id)] = AreaRow(
                at=row.at,
                schedule=row.schedule,
                schedule_id=row.schedule_id,
                script_title=row.script_title,
                priority=row.priority,
                relay=row.relay,
            )
        item.stations += 1
        item.statuses[row.status] += 1
        if row.late:
            item.statuses["late"] += 1
        if row.group_size > 1:
            item.conflicted += 1
            item.orders.add(row.order)
        if row.reason and row.reason not in item.reasons:
            item.reasons.append(row.reason)
    out: dict[date, list[AreaRow]] = {day: [] for day in days}
    for item in sorted(grouped.values(), key=lambda i: (i.at, -i.priority, i.schedule_id)):
        out.setdefault(item.at.astimezone(zone).date(), []).append(item)
    return out


def area_stations(session: Session, area: Area) -> list[Station]:
    """The active stations in an area's communes, by code."""
    commune_ids = [c.id for c in communes_of(session, area)]
    return list(
        session.exec(
            select(Station)
            .where(col(Station.area_id).in_(commune_ids), Station.is_active.is_(True))
            .order_by(Station.code)
        )
    )


def next_plays(
    session: Session, schedule: Schedule, *, now: datetime, limit: int = 5
) -> list[tuple[datetime, int]]:
    """The next `limit` instants this schedule plays at, each with how many stations."""
    if not schedule.is_active:
        return []
    start = now
    if schedule.valid_from:
        start = max(now, datetime.combine(schedule.valid_from, time(), UTC) - timedelta(days=1))
    instants: Counter = Counter()
    # Look a week ahead first; a sparse schedule (every 30 days) needs a longer look.
    for days in (8, 62, 400):
        plays = plan(session, start, start + timedelta(days=days), schedule_ids=[schedule.id])
        instants = Counter(p.at for p in plays)
        if len(instants) >= limit:
            break
    return sorted(instants.items())[:limit]


def _stream_name(session: Session, stream_id: int, names: dict) -> str:
    key = ("stream", stream_id)
    if key not in names:
        stream = session.get(StreamSource, stream_id)
        names[key] = stream.name if stream else "—"
    return names[key]
