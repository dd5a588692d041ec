"""Officials' calendars (RFC 5545): a commune's planned bulletins, with our recurrences
written as RRULEs, behind a URL whose secret is shown only to logged-in staff.

One VEVENT per schedule, station time zone and time of day (RRULE's BYHOUR×BYMINUTE
cannot say "06:00 and 17:30"), so that expanding the calendar gives exactly the instants
`onair.schedules.plan()` gives for the commune's stations (tests/outreach compare them
over a year). Where they start: a weekly schedule from its valid_from, or else the day it
was created (our planner has no beginning; a calendar needs one); every N days from its
anchor (or the first slot on or after valid_from); UNTIL is the end of valid_until's
local day. RFC 5545 resolves a wall time in a DST gap forward by the gap and a repeated
one to its first instance: the rules of `onair.recurrence` too.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur
from sqlmodel import Session, col, select

from broadcaster.core import audit
from broadcaster.core.db import saved_id
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Area, CommuneCalendar, Schedule, Script, Station, User
from broadcaster.core.priority import Priority
from broadcaster.onair.recurrence import Recurrence
from broadcaster.onair.schedules import recurrence_of, target_station_ids, version_for

BLOCK = timedelta(minutes=5)
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
LABELS = {Priority.PRIORITY: "[Ưu tiên] ", Priority.EMERGENCY: "[Khẩn cấp] "}


# --------------------------------------------------------------------------- the secret


def _generation(session: Session, commune: Area) -> int:
    row = session.get(CommuneCalendar, commune.id)
    return row.generation if row else 0


def calendar_secret(session: Session, commune: Area, *, key: str) -> str:
    """The secret in the commune's calendar URL (derived; reading it writes nothing)."""
    message = f"calendar:{commune.code}:{_generation(session, commune)}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def secret_matches(session: Session, commune: Area, secret: str, *, key: str) -> bool:
    return hmac.compare_digest(calendar_secret(session, commune, key=key), secret)


def rotate_secret(session: Session, commune: Area, *, actor: User | None) -> None:
    """A new URL for the commune's calendar; the old one stops working at once."""
    row = session.get(CommuneCalendar, commune.id) or CommuneCalendar(area_id=saved_id(commune))
    row.generation += 1
    row.rotated_at = utcnow()
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="rotate_calendar",
        entity_type="area",
        entity_id=commune.code,
        after={"generation": row.generation},
    )


# --------------------------------------------------------------------------- the calendar


def _first_day(recurrence: Recurrence, start: date) -> date | None:
    if recurrence.kind == "weekly":
        for offset in range(7):
            day = start + timedelta(days=offset)
            if day.weekday() in recurrence.weekdays:
                return day
        return None
    assert recurrence.anchor is not None
    if start <= recurrence.anchor:
        return recurrence.anchor
    n = recurrence.every_days
    return recurrence.anchor + timedelta(days=-(-(start - recurrence.anchor).days // n) * n)


def _events(schedule: Schedule, title: str, zone: str, commune: Area, now: datetime):
    recurrence = recurrence_of(schedule)
    tz = ZoneInfo(zone)
    summary = LABELS.get(Priority(schedule.priority), "") + title
    until = None
    if schedule.valid_until is not None:
        end_of_day = datetime.combine(schedule.valid_until, time(23, 59, 59), tzinfo=tz)
        until = end_of_day.astimezone(UTC)
    if recurrence.kind == "once":
        assert recurrence.once_at is not None
        day = recurrence.once_at.date()
        if (schedule.valid_from and day < schedule.valid_from) or (
            schedule.valid_until and day > schedule.valid_until
        ):
            return
        starts: list[tuple[datetime, vRecur | None]] = [(recurrence.once_at, None)]
    else:
        begin = schedule.valid_from or schedule.created_at.astimezone(tz).date()
        if recurrence.kind == "every_n_days":
            begin = schedule.valid_from or recurrence.anchor or begin
        first = _first_day(recurrence, begin)
        if first is None or (schedule.valid_until and first > schedule.valid_until):
            return
        rule = vRecur(freq="WEEKLY" if recurrence.kind == "weekly" else "DAILY")
        if recurrence.kind == "weekly":
            rule["byday"] = [DAY_CODES[d] for d in sorted(recurrence.weekdays)]
            rule["wkst"] = "MO"
        else:
            rule["interval"] = recurrence.every_days
        if until is not None:
            rule["until"] = until
        starts = [(datetime.combine(first, t), rule) for t in recurrence.times]
    for wall, repeats in starts:
        event = Event()
        event.add(
            "uid",
            f"{commune.code}-s{schedule.id}-{wall:%H%M}-{zone.replace('/', '-')}@broadcaster",
        )
        event.add("dtstamp", now)
        event.add("last-modified", schedule.updated_at)
        event.add("dtstart", wall.replace(tzinfo=tz))
        event.add("duration", BLOCK)
        event.add("summary", summary)
        event.add("description", schedule.name)
        event.add("x-broadcaster-schedule", str(schedule.id))
        if repeats is not None:
            event.add("rrule", repeats)
        yield event


def commune_calendar(session: Session, commune: Area, *, now: datetime) -> bytes:
    """The commune's planned bulletins as an iCalendar file (what plan() would play)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Broadcaster//Lich phat thanh//VI")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"Lịch phát thanh – {commune.name}")
    stations = {
        s.id: s
        for s in session.exec(
            select(Station).where(Station.area_id == commune.id, col(Station.is_active).is_(True))
        )
    }
    schedules = session.exec(
        select(Schedule).where(col(Schedule.is_active).is_(True)).order_by(col(Schedule.id))
    ).all()
    for schedule in schedules if stations else ():
        if version_for(session, schedule) is None:
            continue  # not on air: nothing unapproved is planned
        reached = [stations[i] for i in target_station_ids(session, schedule) if i in stations]
        script = session.get(Script, schedule.script_id)
        for zone in sorted({s.timezone for s in reached}):
            for event in _events(schedule, script.title if script else "", zone, commune, now):
                calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
