"""The week calendar's computation: plays per day, area folding, conflicts, next plays."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from broadcaster.core.models import Station
from broadcaster.onair.calendar import (
    CalendarRow,
    area_days,
    calendar_rows,
    day_label,
    next_plays,
    station_days,
    week_of,
)
from tests.onair.test_occurrences import approved_script, station, weekly

HUE = ZoneInfo("Asia/Ho_Chi_Minh")


def test_a_week_runs_monday_to_sunday_in_the_stations_zone():
    week = week_of(date(2026, 12, 3), HUE)
    assert week.monday == date(2026, 11, 30) and week.days[-1] == date(2026, 12, 6)
    assert week.start == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    assert week.end - week.start == timedelta(days=7)


def test_days_are_named_as_staff_read_them_in_both_languages():
    assert day_label(date(2026, 12, 6)) == "Chủ nhật, 06/12/2026"
    assert day_label(date(2026, 11, 30), "en") == "Monday, 30/11/2026"


def test_a_station_plays_per_day_with_its_conflicts_numbered(session):
    script = approved_script(session)
    weekly(session, script, ["HUE-PHU-XUAN"], list(range(7)), ["06:00", "17:00"], name="Nhắc")
    weekly(session, script, ["HUE-PHU-XUAN"], [2], ["17:00"], name="Trùng", priority=1)
    week = week_of(date(2026, 11, 30), HUE)
    rows = calendar_rows(
        session,
        [station(session, "HUE-PHU-XUAN")],
        week.start,
        week.end,
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    per_day = station_days(rows, week.days, HUE)
    for day in week.days:
        times = [r.at.astimezone(HUE).strftime("%H:%M") for r in per_day[day]]
        assert times == (["06:00", "17:00", "17:00"] if day.weekday() == 2 else ["06:00", "17:00"])
        assert all(r.status == "upcoming" for r in per_day[day])
    wednesday = per_day[date(2026, 12, 2)]
    assert [(r.order, r.group_size) for r in wednesday] == [(0, 1), (1, 2), (2, 2)]
    assert wednesday[1].priority == 1  # the higher priority plays first


def test_an_area_folds_one_schedules_play_across_its_stations_into_one_row():
    at = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 06:00 on 2 December in Huế
    rows = [
        CalendarRow(
            at=at,
            station=Station(id=i, code=f"S{i}"),
            schedule=None,
            schedule_id=7,
            script_title="Nhắc",
            priority=0,
            status=status,
            reason=reason,
            order=1 if i == 1 else 0,
            group_size=2 if i == 1 else 1,
        )
        for i, status, reason in ((1, "played", ""), (2, "missed", "lỡ"), (3, "missed", "lỡ"))
    ]
    days = week_of(date(2026, 12, 2), HUE).days
    (item,) = area_days(rows, days, HUE)[date(2026, 12, 2)]
    assert item.stations == 3 and item.statuses == {"played": 1, "missed": 2}
    assert item.conflicted == 1 and item.orders == {1} and item.reasons == ["lỡ"]


def test_next_plays_counts_the_stations_of_each_instant(session):
    script = approved_script(session)
    schedule = weekly(session, script, ["HUE-PHU-XUAN", "HUE-THUAN-AN"], [0], ["06:00"])
    plays = next_plays(session, schedule, now=datetime(2026, 11, 30, tzinfo=UTC), limit=3)
    assert [at.astimezone(HUE).date() for at, _ in plays] == [
        date(2026, 12, 7),
        date(2026, 12, 14),
        date(2026, 12, 21),
    ]
    assert all(count == 2 for _, count in plays)
    schedule.is_active = False
    assert next_plays(session, schedule, now=datetime(2026, 11, 30, tzinfo=UTC)) == []
