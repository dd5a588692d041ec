"""The APScheduler trigger of a schedule: it asks our own recurrence for the next slot.

APScheduler's own triggers (cron, interval, date) would be a second reading of the time
rules written in ``onair.recurrence`` (DST gaps and folds, validity windows read in each
station's calendar). ``RecurrenceTrigger`` has none of its own: its next fire time is the
first instant the planner gives for the schedule in any of its stations' zones. It holds
only plain values (the schedule's stored recurrence columns, window and zone names), so
the persistent job store can pickle it.

It fires playout.LEAD before each slot: the job claims the plays and hands them to their
stations' queues then, and the queues release them at the slot itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from broadcaster.core.models import Schedule
from broadcaster.onair.planner import _instants
from broadcaster.onair.playout import LEAD
from broadcaster.onair.recurrence import Recurrence, stored_recurrence

_FIELDS = (
    "kind",
    "weekdays",
    "times",
    "every_days",
    "anchor",
    "once_at",
    "valid_from",
    "valid_until",
    "zones",
)
_TICK = timedelta(microseconds=1)
_SEARCHES = 400  # windows searched before giving up; a window is at least 8 days


class RecurrenceTrigger(BaseTrigger):
    """Fires at each slot of one schedule, in each of the given IANA time zones."""

    def __init__(
        self,
        *,
        kind: str,
        weekdays: str = "",
        times: str = "",
        every_days: int = 1,
        anchor: date | None = None,
        once_at: str = "",
        valid_from: date | None = None,
        valid_until: date | None = None,
        zones: tuple[str, ...] = (),
    ) -> None:
        self.kind, self.weekdays, self.times = kind, weekdays, times
        self.every_days, self.anchor, self.once_at = every_days, anchor, once_at
        self.valid_from, self.valid_until = valid_from, valid_until
        self.zones = tuple(sorted(set(zones)))
        self._decode()  # refuses a recurrence that cannot be read, before it is stored

    @classmethod
    def for_schedule(cls, schedule: Schedule, zones: set[str]) -> RecurrenceTrigger:
        return cls(
            kind=schedule.kind,
            weekdays=schedule.weekdays,
            times=schedule.times,
            every_days=schedule.every_days,
            anchor=schedule.anchor,
            once_at=schedule.once_at,
            valid_from=schedule.valid_from,
            valid_until=schedule.valid_until,
            zones=tuple(zones),
        )

    def _decode(self) -> None:
        self._recurrence: Recurrence = stored_recurrence(
            kind=self.kind,
            weekdays=self.weekdays,
            times=self.times,
            every_days=self.every_days,
            anchor=self.anchor,
            once_at=self.once_at,
        )
        self._tz = [ZoneInfo(zone) for zone in self.zones]

    def __getstate__(self) -> dict:
        return {"version": 1, **{name: getattr(self, name) for name in _FIELDS}}

    def __setstate__(self, state: dict) -> None:
        if state.get("version", 1) > 1:
            raise ValueError(f"RecurrenceTrigger state version {state['version']} is too new")
        for name in _FIELDS:
            setattr(self, name, state[name])
        self._decode()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # As APScheduler's CronTrigger: from just after the previous run (so APScheduler
        # can count the runs it missed), or from now when the clock went back before it. A
        # first run may lie up to LEAD in the past: APScheduler runs it at once.
        if previous_fire_time is None:
            start = now
        elif now < previous_fire_time:
            start = now
        else:
            start = previous_fire_time + LEAD + _TICK  # just after the previous slot
        slot = self.next_slot(start)
        return None if slot is None else slot - LEAD

    def next_slot(self, start: datetime) -> datetime | None:
        """The first slot at or after `start` in any zone, or None when there is no more."""
        start = start.astimezone(UTC)
        recurrence = self._recurrence
        # Any window this long holds a slot of a weekly or every-N-days recurrence.
        span = timedelta(days=max(8, recurrence.every_days + 1))
        if self.valid_from is not None:
            opens = datetime.combine(self.valid_from - timedelta(days=1), time(), UTC)
            start = max(start, opens)
        last = self.valid_until
        if recurrence.once_at is not None:
            last = (
                recurrence.once_at.date() if last is None else min(last, recurrence.once_at.date())
            )
        # A local date ends at most 14 h after the same UTC date does; two days is plenty.
        ends = datetime.combine(last + timedelta(days=2), time(), UTC) if last else None
        for _ in range(_SEARCHES):
            if ends is not None and start >= ends:
                return None
            stop = start + span
            found = [
                at[0]
                for at in (
                    _instants(recurrence, self.valid_from, self.valid_until, tz, start, stop)
                    for tz in self._tz
                )
                if at
            ]
            if found:
                return min(found)
            start = stop
        return None

    def __str__(self) -> str:
        return f"recurrence[{self.kind} {self.times or self.once_at} in {','.join(self.zones)}]"

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"<RecurrenceTrigger ({values})>"
