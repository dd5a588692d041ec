"""The officials' calendar: expanded by real iCalendar tools it is exactly our plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from dateutil.rrule import rrulestr
from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Area, Station
from broadcaster.onair.schedules import ScheduleInput, plan, save_schedule
from broadcaster.outreach import calendars
from tests.outreach.support import commune_of
from tests.stationapi_support import DAILY, HOW_TO, approved, station, user

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "HUE-THUAN-HOA"


def _save(session, slug, **values):
    values.setdefault("station_ids", [station(session, CODE).id])
    data = ScheduleInput(name=f"{slug} {values['kind']}", script=approved(session, slug), **values)
    return save_schedule(session=session, data=data, actor=user(session, "approver"))


def _expand(ics: bytes, start: datetime, end: datetime) -> set[tuple[int, datetime]]:
    found = set()
    for event in icalendar.Calendar.from_ical(ics).walk("VEVENT"):
        schedule_id = int(event["X-BROADCASTER-SCHEDULE"])
        first = event.decoded("DTSTART")
        assert first.tzinfo is not None  # local wall time with its TZID
        if "RRULE" in event:
            rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=first)
            instants = rule.between(start, end, inc=True)
        else:
            instants = [first]
        found |= {(schedule_id, at.astimezone(UTC)) for at in instants if start <= at < end}
    return found


def test_expanding_the_calendar_gives_our_plan_over_a_year_and_its_turn(session):
    today = utcnow().astimezone(HUE).date()
    next_year = today.year + 1
    commune = commune_of(session, CODE)
    province = session.get(Area, commune.parent_id)
    _save(
        session,
        DAILY,
        kind="weekly",
        weekdays=[0, 2, 4],
        times=["06:00", "17:30"],
        valid_from=today - timedelta(days=10),
    )
    _save(session, DAILY, kind="weekly", weekdays=list(range(7)), times=["05:45"])  # no start
    anchor = today - timedelta(days=40)
    # The last day of validity is itself a slot: it must be in, and nothing after it.
    last = anchor + timedelta(days=(date(next_year, 2, 10) - anchor).days // 3 * 3)
    _save(
        session,
        HOW_TO,
        kind="every_n_days",
        every_days=3,
        times=["07:15"],
        anchor=anchor,
        valid_from=today + timedelta(days=2),
        valid_until=last,
    )
    _save(session, HOW_TO, kind="once", once_at=datetime(next_year, 1, 1, 0, 30))
    _save(
        session,
        DAILY,
        kind="weekly",
        weekdays=[6],
        times=["20:00"],
        station_ids=[],
        area_ids=[province.id],
        priority=1,
    )
    # Another commune's schedule is not in this commune's calendar.
    _save(
        session,
        DAILY,
        kind="weekly",
        weekdays=[1],
        times=["08:00"],
        station_ids=[station(session, "HUE-AN-CUU").id],
    )
    session.commit()
    start = datetime.combine(today, datetime.min.time(), tzinfo=HUE).astimezone(UTC)
    end = start + timedelta(days=400)

    ics = calendars.commune_calendar(session, commune, now=utcnow())
    stations = session.exec(select(Station.id).where(Station.area_id == commune.id)).all()
    expected = {(p.schedule.id, p.at) for p in plan(session, start, end, station_ids=stations)}
    got = _expand(ics, start, end)
    assert len(expected) > 300
    assert any(at.astimezone(HUE).year == next_year for _, at in expected)
    assert got == expected
    calendar = icalendar.Calendar.from_ical(ics)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]


def test_the_calendar_url_needs_its_secret_and_a_new_one_retires_the_old(client, session, app):
    commune = commune_of(session, CODE)
    key = app.config["SETTINGS"].secret_key
    secret = calendars.calendar_secret(session, commune, key=key)
    good = client.get(f"/lich/{commune.code}/{secret}.ics")
    assert good.status_code == 200 and good.mimetype == "text/calendar"
    assert good.headers["Cache-Control"].startswith("private")
    wrong = client.get(f"/lich/{commune.code}/{'0' * 32}.ics")
    unknown = client.get(f"/lich/NOWHERE/{secret}.ics")
    assert (wrong.status_code, wrong.data) == (unknown.status_code, unknown.data)
    assert wrong.status_code == 404
    calendars.rotate_secret(session, commune, actor=user(session, "admin"))
    session.commit()
    assert client.get(f"/lich/{commune.code}/{secret}.ics").status_code == 404
    fresh = calendars.calendar_secret(session, commune, key=key)
    assert fresh != secret
    assert client.get(f"/lich/{commune.code}/{fresh}.ics").status_code == 200


def test_the_public_base_url_is_read_strictly(tmp_path):
    import pytest

    from broadcaster.core.config import ConfigError, load_settings

    base = {"BROADCASTER_INSTANCE_DIR": str(tmp_path)}
    assert load_settings(base).public_url is None
    given = load_settings({**base, "BROADCASTER_PUBLIC_URL": "https://loa.hue.gov.vn/"})
    assert given.public_url == "https://loa.hue.gov.vn"
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings({**base, "BROADCASTER_PUBLIC_URL": "loa.hue.gov.vn"})


def test_a_station_in_a_dst_zone_gets_the_same_gap_and_fold_rules(session):
    """Europe/Berlin: 02:30 does not exist on the last Sunday of March (it plays at 03:30)
    and happens twice on the last Sunday of October (it plays once, the first time)."""
    berlin = station(session, CODE)
    berlin.timezone = "Europe/Berlin"
    session.add(berlin)
    today = utcnow().astimezone(HUE).date()
    _save(session, DAILY, kind="weekly", weekdays=[6], times=["02:30"], valid_from=today)
    session.commit()
    commune = commune_of(session, CODE)
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=400)
    ics = calendars.commune_calendar(session, commune, now=utcnow())
    expected = {(p.schedule.id, p.at) for p in plan(session, start, end, station_ids=[berlin.id])}
    assert _expand(ics, start, end) == expected
    march = [at for _, at in expected if at.month == 3 and at.day > 24]
    assert [at.astimezone(ZoneInfo("Europe/Berlin")).hour for at in march] == [3]
