"""The planner: recurring schedules turned into concrete plays at UTC instants.

Owns ``occurrences()`` (every play of many schedules at many stations in a period) and the
play order inside one slot (``slot_order``, ``conflicts``). Pure functions over the values
of ``recurrence``; the time rules they follow are written there.

Ordering
--------
``occurrences()`` returns plays sorted by (instant, station id, priority descending,
schedule id); this is also the natural order of ``PlannedPlay`` (``order=True``), so
``sorted()`` of any mix of planned plays agrees with it. Within one station and instant the
items play back to back in that order: emergency, then priority, then normal, ties by
schedule id (``slot_order``).

Speed
-----
Stations sharing a time zone share the same local→UTC instants, so slot instants are
computed once per (recurrence, window, zone) and fanned out to the stations; the per-station
work is only building the ``PlannedPlay`` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter, itemgetter
from zoneinfo import ZoneInfo

from broadcaster.onair.recurrence import (
    PlannedPlay,
    Priority,
    Recurrence,
    ScheduleSpec,
    StationTZ,
    _aware_utc,
    _zone,
)

_ONE_DAY = timedelta(days=1)
_new = object.__new__
_set = object.__setattr__


def _trusted(
    at: datetime, station_id: int, rank: int, schedule_id: int, priority: Priority
) -> PlannedPlay:
    """An PlannedPlay from values the planner already checked (half the cost of __init__;
    the planner builds millions)."""
    item = _new(PlannedPlay)
    _set(item, "at", at)
    _set(item, "station_id", station_id)
    _set(item, "priority_rank", rank)
    _set(item, "schedule_id", schedule_id)
    _set(item, "priority", priority)
    return item


def _station_zones(stations: Mapping[int, StationTZ] | Iterable[StationTZ]) -> dict[int, str]:
    if isinstance(stations, Mapping):
        for key, station in stations.items():
            if not isinstance(station, StationTZ):
                raise ValueError(f"stations must be StationTZ values, got {station!r}")
            if key != station.id:
                raise ValueError(
                    f"stations mapping key {key!r} differs from station id {station.id}"
                )
        return {station.id: station.timezone for station in stations.values()}
    zones: dict[int, str] = {}
    for station in stations:
        if not isinstance(station, StationTZ):
            raise ValueError(f"stations must be StationTZ values, got {station!r}")
        known = zones.setdefault(station.id, station.timezone)
        if known != station.timezone:
            raise ValueError(
                f"station {station.id} is given twice, in {known} and {station.timezone}"
            )
    return zones


def _instants(
    recurrence: Recurrence,
    valid_from: date | None,
    valid_until: date | None,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[datetime]:
    """Sorted unique UTC instants in [start, end) of one recurrence in one zone."""
    # One spare local day each side: a shifted (gap) time may cross midnight.
    first = start.astimezone(tz).date() - _ONE_DAY
    last = end.astimezone(tz).date() + _ONE_DAY
    if valid_from is not None and valid_from > first:
        first = valid_from
    if valid_until is not None and valid_until < last:
        last = valid_until
    if first > last:
        return []
    walls: list[datetime] = []
    if recurrence.kind == "once":
        assert recurrence.once_at is not None
        if first <= recurrence.once_at.date() <= last:
            walls.append(recurrence.once_at)
    else:
        times = recurrence.times
        if recurrence.kind == "weekly":
            step = _ONE_DAY
            weekdays = recurrence.weekdays
            days = []
            day = first
            while day <= last:
                if day.weekday() in weekdays:
                    days.append(day)
                day += step
        else:
            assert recurrence.anchor is not None
            n = recurrence.every_days
            anchor = recurrence.anchor
            offset = (first - anchor).days
            day = anchor if offset <= 0 else anchor + timedelta(days=-(-offset // n) * n)
            step = timedelta(days=n)
            days = []
            while day <= last:
                days.append(day)
                day += step
        combine = datetime.combine
        walls = [combine(day, t) for day in days for t in times]
    found: set[datetime] = set()
    for wall in walls:
        # fold=0: a gap time moves forward by the gap, a repeated time is its first instance.
        at = wall.replace(tzinfo=tz).astimezone(UTC)
        if start <= at < end:
            found.add(at)
    return sorted(found)


def occurrences(
    specs: Iterable[ScheduleSpec],
    stations: Mapping[int, StationTZ] | Iterable[StationTZ],
    start: datetime,
    end: datetime,
) -> list[PlannedPlay]:
    """Every play with ``start <= at < end`` (UTC-aware bounds; naive ones are refused).

    Sorted by (at, station_id, priority descending, schedule_id). Every station a schedule
    targets must be among ``stations``. A station targeted twice by one schedule plays once.
    """
    start = _aware_utc(start, "start")
    end = _aware_utc(end, "end")
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    zone_of = _station_zones(stations)

    # instant -> [(priority_rank, schedule id, priority, station ids sorted)]
    events: dict[datetime, list[tuple[int, int, Priority, tuple[int, ...]]]] = {}
    cache: dict[tuple[Recurrence, date | None, date | None, str], list[datetime]] = {}
    seen: set[int] = set()
    for spec in specs:
        if not isinstance(spec, ScheduleSpec):
            raise ValueError(f"specs must be ScheduleSpec values, got {spec!r}")
        if spec.id in seen:
            raise ValueError(f"schedule id {spec.id} is given twice")
        seen.add(spec.id)
        by_zone: dict[str, list[int]] = {}
        try:
            for station_id in spec.station_ids:
                by_zone.setdefault(zone_of[station_id], []).append(station_id)
        except KeyError as exc:
            raise ValueError(
                f"schedule {spec.id} targets station {exc.args[0]}, which is not among the "
                "stations given"
            ) from None
        for key, station_ids in by_zone.items():
            cache_key = (spec.recurrence, spec.valid_from, spec.valid_until, key)
            instants = cache.get(cache_key)
            if instants is None:
                instants = _instants(
                    spec.recurrence, spec.valid_from, spec.valid_until, _zone(key), start, end
                )
                cache[cache_key] = instants
            entry = (-spec.priority, spec.id, spec.priority, tuple(station_ids))
            for at in instants:
                events.setdefault(at, []).append(entry)

    out: list[PlannedPlay] = []
    append = out.append
    for at in sorted(events):
        entries = events[at]
        if len(entries) == 1:
            rank, schedule_id, priority, station_ids = entries[0]
            for s in station_ids:
                append(_trusted(at, s, rank, schedule_id, priority))
            continue
        entries.sort(key=itemgetter(0, 1))
        pairs = [(s, entry) for entry in entries for s in entry[3]]
        pairs.sort(key=itemgetter(0))  # stable: keeps (priority desc, schedule id) per station
        for s, (rank, schedule_id, priority, _) in pairs:
            append(_trusted(at, s, rank, schedule_id, priority))
    return out


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def slot_order(items: Iterable[PlannedPlay]) -> list[PlannedPlay]:
    """Play order of items due at one station in one minute: emergency, priority, normal;
    ties by schedule id. They play back to back, never on top of each other."""
    ordered = sorted(items, key=attrgetter("priority_rank", "schedule_id"))
    if ordered:
        station, minute = ordered[0].station_id, _minute(ordered[0].at)
        for item in ordered:
            if item.station_id != station or _minute(item.at) != minute:
                raise ValueError(
                    "slot_order takes items of one station and one minute; got station "
                    f"{item.station_id} at {item.at.isoformat()} with station {station} at "
                    f"{minute.isoformat()}"
                )
    return ordered


def conflicts(items: Iterable[PlannedPlay]) -> list[list[PlannedPlay]]:
    """Groups of two or more plays at the same station in the same UTC minute.

    Each group is in play order (``slot_order``); groups are sorted by (minute, station).
    """
    groups: dict[tuple[datetime, int], list[PlannedPlay]] = {}
    for item in items:
        groups.setdefault((_minute(item.at), item.station_id), []).append(item)
    return [slot_order(groups[key]) for key in sorted(groups) if len(groups[key]) > 1]
