"""When a schedule plays: recurrence values, times of day and the rules that read them.

Frozen values: no database, no scheduler. The caller resolves a
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

The planner (``occurrences``, ``slot_order``, ``conflicts``) lives in ``onair.planner``
and the summary in words (``describe``) in ``onair.wording``; both are importable from
here, the public face of recurrences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broadcaster.core.errors import BroadcasterError
from broadcaster.core.priority import Priority

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
KINDS = ("weekly", "every_n_days", "once")


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
        # Read by the one reader, but only in its stored form: code and files that build
        # values directly write HH:MM, and the looser staff forms stay in forms and YAML.
        found = parse_times(value) if _HH_MM.match(value) else ()
        if len(found) != 1:
            raise ValueError(f"time of day must look like HH:MM, got {value!r}")
        value = found[0]
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


_HH_MM = re.compile(r"^\d\d:\d\d$")


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
class PlannedPlay:
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
            object.__setattr__(self, "at", _aware_utc(at, "PlannedPlay.at"))
        priority = self.priority
        if type(priority) is not Priority:
            priority = Priority(priority)
            object.__setattr__(self, "priority", priority)
        object.__setattr__(self, "priority_rank", -priority)

    def local(self, tz: str | tzinfo) -> datetime:
        """This play's instant as local time in ``tz`` (an IANA name or a tzinfo)."""
        return self.at.astimezone(_zone(tz) if isinstance(tz, str) else tz)


def stored_recurrence(
    *, kind: str, weekdays: str, times: str, every_days: int, anchor: date | None, once_at: str
) -> Recurrence:
    """The Recurrence of a schedule as the database stores it (times "06:00,17:00",
    weekdays "0,1,2", once_at "2026-12-01T06:00"): the one decoder of stored recurrences,
    used by the planner's callers and the scheduler's trigger alike. Raises ValueError.
    """
    if kind == "weekly":
        days = [int(d) for d in weekdays.split(",") if d.strip()]
        return Recurrence.weekly(days, parse_times(times))
    if kind == "every_n_days":
        return Recurrence.every(every_days, parse_times(times), anchor)
    if kind == "once":
        return Recurrence.once(datetime.fromisoformat(once_at))
    raise ValueError(f"unknown recurrence {kind!r}; use weekly, every_n_days or once")
