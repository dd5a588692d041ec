"""Recurring schedules turned into concrete plays ("occurrences").

Pure functions over frozen values: no database, no scheduler. The caller resolves a
schedule's targets into station ids and passes each station's IANA time zone.

Time rules
----------
* A schedule's times of day, weekdays, anchor and validity window are all read in the
  *station's* local calendar; results are UTC-aware datetimes. A Monday 06:00 slot in
  Asia/Ho_Chi_Minh is Sunday 23:00 UTC, and a window "until 31/12" includes 06:00 local on
  31/12 wherever the station is.
* A local time that does not exist (the spring-forward gap of a DST zone, e.g. 02:30 in
  Europe/Berlin on the last Sunday of March) is **shifted forward by the length of the gap**:
  it plays at the instant the clock would have shown that time had it not jumped (02:30 →
  03:30 CEST). An announcement is never silently dropped. This is PEP 495 ``fold=0`` (what
  ``datetime(..., tzinfo=ZoneInfo(...))`` gives). On that one day a 02:30 slot therefore
  plays after a 03:00 one.
* A local time that happens twice (the autumn fold) plays **once**, at its first
  occurrence (summer time, ``fold=0``).
* If a shift makes two slots of one schedule land on the same instant, it plays once.

Ordering
--------
``occurrences()`` returns plays sorted by (instant, station id, priority descending,
schedule id); this is also the natural order of ``Occurrence`` (``order=True``), so
``sorted()`` of any mix of occurrences agrees with it. Within one station and instant the
items play back to back in that order: emergency, then priority, then normal, ties by
schedule id (``slot_order``).

Speed
-----
Stations sharing a time zone share the same local→UTC instants, so slot instants are
computed once per (recurrence, window, zone) and fanned out to the stations; the per-station
work is only building the ``Occurrence`` values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import IntEnum
from operator import attrgetter, itemgetter
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broadcaster.core.errors import BroadcasterError

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
KINDS = ("weekly", "every_n_days", "once")
_ONE_DAY = timedelta(days=1)


class Priority(IntEnum):
    """Commune radio priority levels: a higher value plays first in a shared slot."""

    NORMAL = 0
    PRIORITY = 1
    EMERGENCY = 2


# --------------------------------------------------------------------------- validation


def _zone(key: str) -> ZoneInfo:
    if not isinstance(key, str) or not key:
        raise ValueError(f"time zone must be a non-empty IANA name, got {key!r}")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {key!r}") from exc


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_time(value: time | str) -> time:
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"time of day must look like HH:MM, got {value!r}") from exc
    if not isinstance(value, time):
        raise ValueError(f"time of day must be a datetime.time or 'HH:MM', got {value!r}")
    if value.tzinfo is not None:
        raise ValueError(f"time of day must be local wall time without tzinfo, got {value}")
    if value.second or value.microsecond:
        raise ValueError(f"time of day must be a whole minute, got {value.isoformat()}")
    # fold=1 would pick the second instance of a repeated autumn hour; we always take the first.
    return value.replace(fold=0)


# How staff write times of day: "06:00", "6:00", "6h", "6h30", "17.00".
_TIME_OF_DAY = re.compile(r"^(\d{1,2})\s*(?:[:hH.]\s*(\d{2})?)$")


class TimeOfDayError(BroadcasterError):
    """A time of day that cannot be read; `details["time"]` is the token."""

    code = "bad_time"


def parse_times(text: str) -> tuple[time, ...]:
    """ "06:00, 17:00" (also "6h", "6h30", "17.00", separated by commas, semicolons or
    spaces) -> the times, sorted and unique. The one reader of times of day: forms, YAML
    files and the stored schedule all come through here.
    """
    found = set()
    for token in re.split(r"[,;\s]+(?=\d)|[,;]", text or ""):
        token = token.strip()
        if not token:
            continue
        match = _TIME_OF_DAY.match(token)
        hour, minute = (int(match.group(1)), int(match.group(2) or 0)) if match else (99, 0)
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise TimeOfDayError(f"{token!r} is not a time like 06:00", time=token)
        found.add(time(hour, minute))
    return tuple(sorted(found))


def format_times(times: Iterable[time]) -> str:
    """The stored form of a list of times: "06:00,17:00"."""
    return ",".join(f"{t:%H:%M}" for t in times)


def _as_date(value: object, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{name} must be a date (not a datetime), got {value!r}")
    return value


def _aware_utc(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, kw_only=True)
class Recurrence:
    """When a schedule plays, in local wall time.

    Build one with ``Recurrence.weekly``, ``Recurrence.every`` or ``Recurrence.once``.
    Weekdays are 0=Monday … 6=Sunday. Times are whole minutes, kept sorted and unique.
    """

    kind: Literal["weekly", "every_n_days", "once"]
    weekdays: frozenset[int] = frozenset()
    times: tuple[time, ...] = ()
    every_days: int = 1
    anchor: date | None = None
    once_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"recurrence kind must be one of {', '.join(KINDS)}, got {self.kind!r}"
            )
        if isinstance(self.times, str | time) or isinstance(self.weekdays, str):
            raise ValueError("weekdays and times must be collections, not a single value")
        try:
            weekdays = frozenset(self.weekdays)
            times = tuple(sorted({_as_time(t) for t in self.times}))
        except TypeError as exc:
            raise ValueError("weekdays and times must be collections") from exc
        for day in weekdays:
            if not _is_int(day) or not 0 <= day <= 6:
                raise ValueError(
                    f"weekday must be an integer 0 (Monday) to 6 (Sunday), got {day!r}"
                )
        if not _is_int(self.every_days) or self.every_days < 1:
            raise ValueError(
                f"every_days must be a whole number of days >= 1, got {self.every_days!r}"
            )
        anchor = _as_date(self.anchor, "anchor")
        if self.kind == "once":
            at = self.once_at
            if not isinstance(at, datetime):
                raise ValueError(f"a one-off recurrence needs once_at (a datetime), got {at!r}")
            if at.tzinfo is not None:
                raise ValueError(
                    "once_at is local wall time: give a naive datetime, not an aware one"
                )
            if at.second or at.microsecond:
                raise ValueError(f"once_at must be a whole minute, got {at.isoformat()}")
            if weekdays or times or anchor is not None or self.every_days != 1:
                raise ValueError("a one-off recurrence takes only once_at")
        else:
            if self.once_at is not None:
                raise ValueError(f"once_at is only for one-off recurrences, not {self.kind}")
            if not times:
                raise ValueError("a recurrence needs at least one time of day")
            if self.kind == "weekly":
                if not weekdays:
                    raise ValueError("a weekly recurrence needs at least one weekday")
                if anchor is not None or self.every_days != 1:
                    raise ValueError("a weekly recurrence takes no anchor or every_days")
            else:
                if anchor is None:
                    raise ValueError("an every-N-days recurrence needs an anchor date")
                if weekdays:
                    raise ValueError("an every-N-days recurrence takes no weekdays")
        object.__setattr__(self, "weekdays", weekdays)
        object.__setattr__(self, "times", times)
        if self.once_at is not None:
            object.__setattr__(self, "once_at", self.once_at.replace(fold=0))

    @classmethod
    def weekly(cls, days: Iterable[int], times: Iterable[time | str]) -> Recurrence:
        """On the given weekdays (0=Monday … 6=Sunday) at each time of day."""
        return cls(kind="weekly", weekdays=days, times=times)

    @classmethod
    def every(cls, n: int, times: Iterable[time | str], anchor: date) -> Recurrence:
        """Every ``n`` days at each time of day, on ``anchor`` and every n-th day after it."""
        return cls(kind="every_n_days", every_days=n, times=times, anchor=anchor)

    @classmethod
    def once(cls, local_dt: datetime) -> Recurrence:
        """Once, at a naive local wall time (read in each station's own zone)."""
        return cls(kind="once", once_at=local_dt)

    def local_times_on(self, day: date) -> tuple[time, ...]:
        """The wall times this recurrence plays on a local date (ignoring validity windows)."""
        if self.kind == "weekly":
            return self.times if day.weekday() in self.weekdays else ()
        if self.kind == "every_n_days":
            assert self.anchor is not None
            delta = (day - self.anchor).days
            return self.times if delta >= 0 and delta % self.every_days == 0 else ()
        assert self.once_at is not None
        return (self.once_at.time(),) if day == self.once_at.date() else ()


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """A schedule as the planner sees it; ``station_ids`` are kept sorted and unique."""

    id: int
    recurrence: Recurrence
    valid_from: date | None = None
    valid_until: date | None = None
    priority: Priority = Priority.NORMAL
    station_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not _is_int(self.id):
            raise ValueError(f"schedule id must be an integer, got {self.id!r}")
        if not isinstance(self.recurrence, Recurrence):
            raise ValueError(f"schedule {self.id}: recurrence must be a Recurrence")
        start = _as_date(self.valid_from, "valid_from")
        until = _as_date(self.valid_until, "valid_until")
        if start is not None and until is not None and until < start:
            raise ValueError(
                f"schedule {self.id}: valid_until {until.isoformat()} is before "
                f"valid_from {start.isoformat()}"
            )
        try:
            priority = Priority(self.priority)
        except ValueError as exc:
            raise ValueError(
                f"schedule {self.id}: priority must be 0 (normal), 1 (priority) or "
                f"2 (emergency), got {self.priority!r}"
            ) from exc
        try:
            ids = set(self.station_ids)
        except TypeError as exc:
            raise ValueError(f"schedule {self.id}: station_ids must be a collection") from exc
        if not all(_is_int(i) for i in ids):
            raise ValueError(f"schedule {self.id}: station ids must be integers")
        object.__setattr__(self, "priority", priority)
        object.__setattr__(self, "station_ids", tuple(sorted(ids)))


@dataclass(frozen=True)
class StationTZ:
    """A station id and its IANA time zone (validated)."""

    id: int
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if not _is_int(self.id):
            raise ValueError(f"station id must be an integer, got {self.id!r}")
        _zone(self.timezone)


@dataclass(frozen=True, order=True, kw_only=True, slots=True)
class Occurrence:
    """One play of one schedule at one station, at a UTC instant.

    The natural order is (at, station_id, priority descending, schedule_id):
    ``priority_rank`` (= -priority) is the field that makes higher priorities sort first.
    """

    at: datetime
    station_id: int
    priority_rank: int = field(init=False, repr=False)
    schedule_id: int
    priority: Priority = field(compare=False)

    def __post_init__(self) -> None:
        at = self.at
        if at.tzinfo is not UTC:
            object.__setattr__(self, "at", _aware_utc(at, "Occurrence.at"))
        priority = self.priority
        if type(priority) is not Priority:
            priority = Priority(priority)
            object.__setattr__(self, "priority", priority)
        object.__setattr__(self, "priority_rank", -priority)

    def local(self, tz: str | tzinfo) -> datetime:
        """This play's instant as local time in ``tz`` (an IANA name or a tzinfo)."""
        return self.at.astimezone(_zone(tz) if isinstance(tz, str) else tz)


# --------------------------------------------------------------------------- planning

_new = object.__new__
_set = object.__setattr__


def _trusted(
    at: datetime, station_id: int, rank: int, schedule_id: int, priority: Priority
) -> Occurrence:
    """An Occurrence from values the planner already checked (half the cost of __init__;
    the planner builds millions)."""
    item = _new(Occurrence)
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
) -> list[Occurrence]:
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

    out: list[Occurrence] = []
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


def slot_order(items: Iterable[Occurrence]) -> list[Occurrence]:
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


def conflicts(items: Iterable[Occurrence]) -> list[list[Occurrence]]:
    """Groups of two or more plays at the same station in the same UTC minute.

    Each group is in play order (``slot_order``); groups are sorted by (minute, station).
    """
    groups: dict[tuple[datetime, int], list[Occurrence]] = {}
    for item in items:
        groups.setdefault((_minute(item.at), item.station_id), []).append(item)
    return [slot_order(groups[key]) for key in sorted(groups) if len(groups[key]) > 1]


# --------------------------------------------------------------------------- describe

_WORDS = {
    "vi": {
        "days": ("Thứ 2", "Thứ 3", "Thứ 4", "Thứ 5", "Thứ 6", "Thứ 7", "Chủ nhật"),
        "range": "{} đến {}",
        "and": " và ",
        "daily": "Hằng ngày",
        "every": "Cách {} ngày một lần",
        "counted": " tính từ {}",
        "once": "Một lần lúc {} ngày {}",
        "between": "từ {} đến {}",
        "from": "từ {}",
        "until": "đến {}",
    },
    "en": {
        "days": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "range": "{} to {}",
        "and": " and ",
        "daily": "Every day",
        "every": "Every {} days",
        "counted": " counting from {}",
        "once": "Once at {} on {}",
        "between": "from {} to {}",
        "from": "from {}",
        "until": "until {}",
    },
}


def _join(parts: list[str], conjunction: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + conjunction + parts[-1]


def _weekdays_text(days: frozenset[int], words: dict) -> str:
    """Runs of three or more consecutive days (Monday first) as ranges, the rest listed."""
    names = words["days"]
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(words["range"].format(names[run[0]], names[run[-1]]))
        else:
            parts.extend(names[d] for d in run)
    return ", ".join(parts)


def _date_text(day: date, with_year: bool) -> str:
    return day.strftime("%d/%m/%Y") if with_year else day.strftime("%d/%m")


def describe(
    recurrence: Recurrence,
    valid_from: date | None = None,
    valid_until: date | None = None,
    lang: str = "vi",
    *,
    today: date | None = None,
) -> str:
    """A one-line human summary, Vietnamese by default (``lang="en"`` for English).

    "Thứ 2 đến Chủ nhật, 06:00 và 17:00, từ 01/12 đến 31/12". Window dates are dd/mm, with
    the year when the window is not entirely within ``today``'s year (default: today).
    """
    if lang not in _WORDS:
        raise ValueError(f"lang must be one of {', '.join(_WORDS)}, got {lang!r}")
    if not isinstance(recurrence, Recurrence):
        raise ValueError("describe needs a Recurrence")
    valid_from = _as_date(valid_from, "valid_from")
    valid_until = _as_date(valid_until, "valid_until")
    words = _WORDS[lang]
    this_year = (today or date.today()).year
    years = {d.year for d in (valid_from, valid_until) if d is not None}
    with_year = bool(years) and years != {this_year}
    times = _join([t.strftime("%H:%M") for t in recurrence.times], words["and"])

    if recurrence.kind == "once":
        assert recurrence.once_at is not None
        parts = [
            words["once"].format(
                recurrence.once_at.strftime("%H:%M"), _date_text(recurrence.once_at, True)
            )
        ]
    elif recurrence.kind == "weekly":
        parts = [_weekdays_text(recurrence.weekdays, words), times]
    else:
        assert recurrence.anchor is not None
        n = recurrence.every_days
        head = words["daily"] if n == 1 else words["every"].format(n)
        if recurrence.anchor != valid_from and n > 1:
            anchor_year = with_year or recurrence.anchor.year != this_year
            head += words["counted"].format(_date_text(recurrence.anchor, anchor_year))
        parts = [head, times]

    if valid_from is not None and valid_until is not None:
        parts.append(
            words["between"].format(
                _date_text(valid_from, with_year), _date_text(valid_until, with_year)
            )
        )
    elif valid_from is not None:
        parts.append(words["from"].format(_date_text(valid_from, with_year)))
    elif valid_until is not None:
        parts.append(words["until"].format(_date_text(valid_until, with_year)))
    return ", ".join(parts)
