"""Recurring schedules turned into concrete plays: local calendars, DST, validity, ordering."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.onair import planner
from broadcaster.onair.planner import conflicts, occurrences, slot_order
from broadcaster.onair.recurrence import PlannedPlay, Priority, Recurrence, StationTZ
from tests.onair.planning import EVERY_DAY, HUE, PROPERTY, instants, spec, utc

# --------------------------------------------------------------------------- UTC day boundary


def test_it_plays_a_monday_0600_hue_slot_on_sunday_2300_utc():
    monday_only = spec(Recurrence.weekly([0], [time(6)]))
    # Ask for the UTC Sunday 06/12/2026 only.
    got = occurrences([monday_only], [StationTZ(1, HUE)], utc(2026, 12, 6), utc(2026, 12, 7))
    assert got == [
        PlannedPlay(at=utc(2026, 12, 6, 23), station_id=1, schedule_id=1, priority=Priority.NORMAL)
    ]
    local = got[0].local(HUE)
    assert (local.weekday(), local.time(), local.date()) == (0, time(6), date(2026, 12, 7))
    # Asking for the UTC Monday does not find it again.
    assert occurrences([monday_only], [StationTZ(1, HUE)], utc(2026, 12, 7), utc(2026, 12, 8)) == []


def test_it_returns_utc_aware_datetimes_whatever_zone_the_bounds_are_in():
    plus7 = ZoneInfo(HUE)
    got = occurrences(
        [spec(Recurrence.weekly(EVERY_DAY, ["06:00"]))],
        {1: StationTZ(1, HUE)},
        datetime(2026, 12, 7, tzinfo=plus7),
        datetime(2026, 12, 8, tzinfo=plus7),
    )
    assert [o.at for o in got] == [utc(2026, 12, 6, 23)]
    assert got[0].at.tzinfo is UTC


# --------------------------------------------------------------------------- validity windows


def test_it_keeps_the_validity_window_inclusive_in_the_local_calendar():
    daily = spec(
        Recurrence.weekly(EVERY_DAY, [time(6)]),
        valid_from=date(2026, 12, 1),
        valid_until=date(2026, 12, 31),
    )
    got = occurrences([daily], [StationTZ(1, HUE)], utc(2026, 11, 1), utc(2027, 2, 1))
    assert len(got) == 31
    # 06:00 local on valid_from (the previous UTC day) and on valid_until are both in.
    assert got[0].at == utc(2026, 11, 30, 23)
    assert got[-1].at == utc(2026, 12, 30, 23)
    assert got[-1].local(HUE) == datetime(2026, 12, 31, 6, tzinfo=ZoneInfo(HUE))


def test_it_reads_the_window_in_each_stations_own_zone():
    daily = spec(
        Recurrence.weekly(EVERY_DAY, [time(6)]),
        (1, 2, 3),
        valid_from=date(2026, 3, 28),
        valid_until=date(2026, 3, 30),
    )
    stations = [StationTZ(1, HUE), StationTZ(2, "Asia/Bangkok"), StationTZ(3, "Europe/Berlin")]
    got = occurrences([daily], stations, utc(2026, 3, 20), utc(2026, 4, 10))
    hue = [utc(2026, 3, 27, 23), utc(2026, 3, 28, 23), utc(2026, 3, 29, 23)]
    assert instants(got, 1) == hue
    assert instants(got, 2) == hue  # same offset, same instants
    # Berlin: 06:00 CET on 28/3 (05:00 UTC), then 06:00 CEST (04:00 UTC) after the switch.
    assert instants(got, 3) == [utc(2026, 3, 28, 5), utc(2026, 3, 29, 4), utc(2026, 3, 30, 4)]


def test_it_includes_a_late_local_play_on_valid_until_even_when_utc_is_the_next_day():
    # 23:30 in New York on 31/12 is 04:30 UTC on 01/01; 00:30 in Berlin on 01/12 is 30/11 UTC.
    late = spec(Recurrence.weekly(EVERY_DAY, ["23:30"]), (1,), valid_until=date(2026, 12, 31))
    early = spec(Recurrence.weekly(EVERY_DAY, ["00:30"]), (2,), id=2, valid_from=date(2026, 12, 1))
    stations = [StationTZ(1, "America/New_York"), StationTZ(2, "Europe/Berlin")]
    got = occurrences([late, early], stations, utc(2026, 11, 30), utc(2027, 1, 3))
    assert instants(got, 1)[-1] == utc(2027, 1, 1, 4, 30)
    assert instants(got, 2)[0] == utc(2026, 11, 30, 23, 30)


def test_it_returns_nothing_outside_the_window():
    past = spec(Recurrence.weekly(EVERY_DAY, ["06:00"]), valid_until=date(2026, 1, 1))
    assert occurrences([past], [StationTZ(1)], utc(2026, 6, 1), utc(2026, 7, 1)) == []


# --------------------------------------------------------------------------- every N days, once


def test_it_counts_every_n_days_from_the_anchor_not_from_the_window():
    every3 = Recurrence.every(3, ["06:00"], date(2026, 12, 2))
    got = occurrences(
        [spec(every3, valid_from=date(2026, 12, 3))],
        [StationTZ(1)],
        utc(2026, 11, 1),
        utc(2026, 12, 15),
    )
    local_days = [o.local(HUE).date() for o in got]
    # 2/12 is the anchor but before the window; 5, 8, 11, 14 keep its phase.
    assert local_days == [date(2026, 12, d) for d in (5, 8, 11, 14)]


def test_it_does_not_play_every_n_days_before_the_anchor():
    every2 = Recurrence.every(2, [time(6), time(17)], date(2026, 12, 10))
    got = occurrences([spec(every2)], [StationTZ(1)], utc(2026, 12, 1), utc(2026, 12, 13))
    assert [o.local(HUE).replace(tzinfo=None) for o in got] == [
        datetime(2026, 12, 10, 6),
        datetime(2026, 12, 10, 17),
        datetime(2026, 12, 12, 6),
        datetime(2026, 12, 12, 17),
    ]


def test_it_plays_a_one_off_once_at_local_wall_time_in_each_zone():
    once = spec(Recurrence.once(datetime(2026, 12, 1, 6)), (1, 2))
    stations = [StationTZ(1, HUE), StationTZ(2, "Europe/Berlin")]
    got = occurrences([once], stations, utc(2026, 1, 1), utc(2027, 1, 1))
    assert [(o.station_id, o.at) for o in got] == [
        (1, utc(2026, 11, 30, 23)),
        (2, utc(2026, 12, 1, 5)),
    ]
    # Outside the asked range, or outside the validity window: nothing.
    assert occurrences([once], stations, utc(2026, 12, 2), utc(2027, 1, 1)) == []
    fenced = spec(Recurrence.once(datetime(2026, 12, 1, 6)), valid_until=date(2026, 11, 30))
    assert occurrences([fenced], stations, utc(2026, 1, 1), utc(2027, 1, 1)) == []


# --------------------------------------------------------------------------- boundaries


def test_it_treats_start_and_end_as_half_open():
    daily = [spec(Recurrence.weekly(EVERY_DAY, ["06:00"]))]
    stations = [StationTZ(1)]
    play = utc(2026, 12, 6, 23)
    assert instants(occurrences(daily, stations, play, play + timedelta(minutes=1))) == [play]
    assert occurrences(daily, stations, play - timedelta(hours=1), play) == []
    assert occurrences(daily, stations, play, play) == []


def test_it_refuses_naive_datetimes():
    daily = [spec(Recurrence.weekly(EVERY_DAY, ["06:00"]))]
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        occurrences(daily, [StationTZ(1)], datetime(2026, 12, 1), utc(2026, 12, 2))
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        occurrences(daily, [StationTZ(1)], utc(2026, 12, 1), datetime(2026, 12, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        PlannedPlay(at=datetime(2026, 12, 1), station_id=1, schedule_id=1, priority=0)
    with pytest.raises(ValueError, match="naive datetime"):
        Recurrence.once(utc(2026, 12, 1, 6))


def test_it_refuses_an_end_before_the_start():
    with pytest.raises(ValueError, match="before start"):
        occurrences([], [], utc(2026, 12, 2), utc(2026, 12, 1))


# --------------------------------------------------------------------------- DST


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        # Berlin jumps 02:00 CET → 03:00 CEST: 02:30 does not exist, plays at 03:30 CEST.
        ("Europe/Berlin", date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 30)),
        ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),
        # Lord Howe jumps by 30 minutes, 02:00 → 02:30.
        ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 45)),
    ],
)
def test_it_shifts_a_time_in_the_spring_gap_forward_by_the_gap(zone, day, wall, expected):
    sched = spec(Recurrence.weekly([day.weekday()], [wall]))
    got = occurrences([sched], [StationTZ(1, zone)], utc(2026, 1, 1), utc(2027, 1, 1))
    on_the_day = [o.at for o in got if abs(o.at - expected) < timedelta(days=1)]
    assert on_the_day == [expected]
    assert len(got) == 52  # one a week, none lost


def test_it_plays_a_gap_time_and_its_shifted_twin_once():
    # 02:30 shifts onto 03:30 on the switch day; one schedule plays there once.
    sched = spec(Recurrence.weekly([6], ["02:30", "03:30"]))
    got = occurrences([sched], [StationTZ(1, "Europe/Berlin")], utc(2026, 3, 28), utc(2026, 3, 30))
    assert instants(got) == [utc(2026, 3, 29, 1, 30)]


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        ("Europe/Berlin", date(2026, 10, 25), utc(2026, 10, 25, 0, 30)),  # 02:30 CEST
        ("America/New_York", date(2026, 11, 1), utc(2026, 11, 1, 5, 30)),  # 01:30 EDT
    ],
)
def test_it_plays_an_ambiguous_autumn_time_once_at_its_first_instance(zone, day, expected):
    wall = time(2, 30) if zone == "Europe/Berlin" else time(1, 30)
    sched = spec(Recurrence.weekly([6], [wall]))
    got = occurrences([sched], [StationTZ(1, zone)], utc(2026, 10, 20), utc(2026, 11, 5))
    on_the_day = [o.at for o in got if o.local(zone).date() == day]
    assert on_the_day == [expected]


def test_it_matches_apscheduler_crontrigger_away_from_dst_changes():
    from apscheduler.triggers.cron import CronTrigger

    start, end = utc(2026, 4, 1), utc(2026, 5, 1)
    for zone in (HUE, "Europe/Berlin", "America/New_York", "Asia/Kathmandu"):
        sched = spec(Recurrence.weekly([0, 2, 4, 6], ["06:00", "17:45"]))
        ours = instants(occurrences([sched], [StationTZ(1, zone)], start, end))
        trigger = CronTrigger(
            day_of_week="mon,wed,fri,sun", hour="6,17", minute="0,45", timezone=zone
        )
        theirs, previous, now = [], None, start
        while (fire := trigger.get_next_fire_time(previous, now)) and fire < end:
            if (fire.hour, fire.minute) in {(6, 0), (17, 45)}:
                theirs.append(fire.astimezone(UTC))
            previous, now = fire, fire + timedelta(seconds=1)
        assert ours == theirs, zone


# --------------------------------------------------------------------------- ordering


def test_it_orders_a_shared_slot_emergency_then_priority_then_normal_then_schedule_id():
    six = Recurrence.weekly(EVERY_DAY, ["06:00"])
    specs = [
        spec(six, (1, 2), id=1),
        spec(six, (2,), id=3),
        spec(six, (1, 2), id=5, priority=Priority.PRIORITY),
        spec(six, (2,), id=9, priority=Priority.EMERGENCY),
    ]
    got = occurrences(specs, [StationTZ(1), StationTZ(2)], utc(2026, 12, 6), utc(2026, 12, 7))
    assert [(o.station_id, o.schedule_id) for o in got] == [
        (1, 5), (1, 1), (2, 9), (2, 5), (2, 1), (2, 3)
    ]  # fmt: skip
    assert got == sorted(got)  # the dataclass order is the documented order
    assert [o.schedule_id for o in slot_order(reversed(got[2:]))] == [9, 5, 1, 3]


def test_it_sorts_by_instant_first_then_station():
    specs = [
        spec(Recurrence.weekly(EVERY_DAY, ["17:00"]), (1, 2), id=1, priority=Priority.EMERGENCY),
        spec(Recurrence.weekly(EVERY_DAY, ["06:00"]), (1, 2), id=2),
    ]
    got = occurrences(specs, [StationTZ(2), StationTZ(1)], utc(2026, 12, 6), utc(2026, 12, 7))
    assert [(o.at.hour, o.station_id, o.schedule_id) for o in got] == [
        (10, 1, 1), (10, 2, 1), (23, 1, 2), (23, 2, 2)
    ]  # fmt: skip


def test_it_refuses_to_slot_order_items_of_different_stations_or_minutes():
    at = utc(2026, 12, 6, 23)
    a = PlannedPlay(at=at, station_id=1, schedule_id=1, priority=Priority.NORMAL)
    b = PlannedPlay(at=at, station_id=2, schedule_id=2, priority=Priority.NORMAL)
    c = PlannedPlay(at=at + timedelta(minutes=1), station_id=1, schedule_id=3, priority=2)
    with pytest.raises(ValueError, match="one station and one minute"):
        slot_order([a, b])
    with pytest.raises(ValueError, match="one station and one minute"):
        slot_order([a, c])
    assert slot_order([]) == []


def test_it_groups_conflicts_by_station_and_utc_minute():
    at = utc(2026, 12, 6, 23)
    items = [
        PlannedPlay(at=at, station_id=1, schedule_id=4, priority=Priority.NORMAL),
        PlannedPlay(at=at, station_id=1, schedule_id=2, priority=Priority.EMERGENCY),
        PlannedPlay(at=at, station_id=2, schedule_id=4, priority=Priority.NORMAL),
        PlannedPlay(at=at + timedelta(seconds=30), station_id=1, schedule_id=7, priority=1),
        PlannedPlay(at=at + timedelta(minutes=1), station_id=1, schedule_id=8, priority=0),
        PlannedPlay(at=at - timedelta(hours=1), station_id=3, schedule_id=1, priority=0),
        PlannedPlay(at=at - timedelta(hours=1), station_id=3, schedule_id=5, priority=0),
    ]
    groups = conflicts(items)
    assert [[(o.station_id, o.schedule_id) for o in group] for group in groups] == [
        [(3, 1), (3, 5)],
        [(1, 2), (1, 7), (1, 4)],
    ]
    assert conflicts(items[2:3]) == []


def test_it_finds_conflicts_in_planned_occurrences():
    specs = [
        spec(Recurrence.weekly(EVERY_DAY, ["06:00"]), (1, 2), id=1),
        spec(Recurrence.weekly([0], ["06:00"]), (2,), id=2, priority=Priority.EMERGENCY),
    ]
    got = occurrences(specs, [StationTZ(1), StationTZ(2)], utc(2026, 12, 1), utc(2026, 12, 14))
    groups = conflicts(got)
    assert len(groups) == 2  # the two Mondays, station 2 only
    assert all([o.schedule_id for o in g] == [2, 1] for g in groups)
    assert {g[0].local(HUE).weekday() for g in groups} == {0}


# --------------------------------------------------------------------------- fan-out


def test_it_gives_many_stations_in_one_zone_the_same_instants(monkeypatch):
    calls = []
    real = planner._instants

    def counting(recurrence, valid_from, valid_until, tz, start, end):
        calls.append(tz.key)
        return real(recurrence, valid_from, valid_until, tz, start, end)

    monkeypatch.setattr(planner, "_instants", counting)
    stations = [StationTZ(i, HUE) for i in range(1, 1001)] + [StationTZ(1001, "Asia/Bangkok")]
    ids = tuple(s.id for s in stations)
    specs = [
        spec(Recurrence.weekly(EVERY_DAY, ["06:00", "17:00"]), ids, id=1),
        spec(Recurrence.weekly([0, 1, 2, 3, 4], ["11:00"]), ids, id=2),
    ]
    got = occurrences(specs, stations, utc(2026, 12, 1), utc(2026, 12, 8))
    per_station: dict[int, list[datetime]] = {}
    for o in got:
        per_station.setdefault(o.station_id, []).append(o.at)
    assert len(per_station) == 1001
    reference = per_station[1]
    assert len(reference) == 7 * 2 + 5
    assert all(v == reference for v in per_station.values())
    # Slot instants are computed once per (schedule, zone), not per station.
    assert sorted(calls) == ["Asia/Bangkok", "Asia/Bangkok", HUE, HUE]


def test_it_plays_a_station_targeted_twice_once():
    sched = spec(Recurrence.weekly(EVERY_DAY, ["06:00"]), (1, 1, 1))
    assert sched.station_ids == (1,)
    got = occurrences([sched], [StationTZ(1)], utc(2026, 12, 6), utc(2026, 12, 7))
    assert len(got) == 1


def test_it_refuses_unknown_stations_and_duplicate_schedule_ids():
    sched = spec(Recurrence.weekly(EVERY_DAY, ["06:00"]), (1, 7))
    with pytest.raises(ValueError, match="targets station 7"):
        occurrences([sched], [StationTZ(1)], utc(2026, 12, 6), utc(2026, 12, 7))
    ok = spec(Recurrence.weekly(EVERY_DAY, ["06:00"]))
    with pytest.raises(ValueError, match="given twice"):
        occurrences([ok, ok], [StationTZ(1)], utc(2026, 12, 6), utc(2026, 12, 7))
    with pytest.raises(ValueError, match="given twice"):
        occurrences([ok], [StationTZ(1), StationTZ(1, "UTC")], utc(2026, 12, 6), utc(2026, 12, 7))
    with pytest.raises(ValueError, match="differs from station id"):
        occurrences([ok], {2: StationTZ(1)}, utc(2026, 12, 6), utc(2026, 12, 7))


# --------------------------------------------------------------------------- property

ZONES = [
    HUE,
    "Asia/Bangkok",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST
    "Asia/Kathmandu",  # +05:45
]
# Sundays with a DST change in one of ZONES, so the property visits gaps and folds often.
CHANGES = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]

# Any minute, or one of the wall times DST changes skip or repeat in ZONES.
minutes = st.one_of(
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
    st.sampled_from([time(1), time(1, 30), time(2), time(2, 15), time(2, 30), time(2, 59)]),
)
starts = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 28)),
    st.builds(
        lambda day, hours: datetime.combine(day, time()) + timedelta(hours=hours),
        st.sampled_from(CHANGES),
        st.integers(-48, 24),
    ),
).map(lambda naive: naive.replace(tzinfo=UTC))


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    round_trip = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return round_trip.replace(tzinfo=None) == wall


@PROPERTY
@given(
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    times=st.lists(minutes, min_size=1, max_size=4),
    from_offset=st.none() | st.integers(-3, 3),
    valid_span=st.none() | st.integers(0, 5),
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3),
    start=starts,
    hours=st.integers(24, 96),
)
def test_it_only_plays_listed_weekdays_and_times_inside_the_window(
    weekdays, times, from_offset, valid_span, zones, start, hours
):
    # Windows near the asked range, so that they cut through it often.
    valid_from = None if from_offset is None else start.date() + timedelta(days=from_offset)
    valid_until = None
    if valid_span is not None:
        valid_until = (valid_from or start.date()) + timedelta(days=valid_span)
    stations = {i: StationTZ(i, z) for i, z in enumerate(zones, start=1)}
    recurrence = Recurrence.weekly(weekdays, times)
    sched = spec(recurrence, tuple(stations), valid_from=valid_from, valid_until=valid_until)
    end = start + timedelta(hours=hours)
    got = occurrences([sched], stations, start, end)

    assert len(set(got)) == len(got)
    assert got == sorted(got)
    in_window = (valid_from or date.min, valid_until or date.max)
    for o in got:
        assert start <= o.at < end
        zone = ZoneInfo(stations[o.station_id].timezone)
        local = o.at.astimezone(zone)
        wall = local.replace(tzinfo=None, fold=0)
        if local.fold == 0 and wall.time() in recurrence.times:
            nominal = wall  # the ordinary case: the local clock shows a listed time
        else:  # only a nonexistent (spring gap) wall time may be shifted onto this instant
            shifted = [
                datetime.combine(day, t)
                for day in (wall.date(), wall.date() - timedelta(days=1))
                for t in recurrence.times
                if not _exists(datetime.combine(day, t), zone)
                and datetime.combine(day, t).replace(tzinfo=zone).astimezone(UTC) == o.at
            ]
            assert shifted, (o, local)
            nominal = shifted[0]
        assert nominal.weekday() in weekdays
        assert in_window[0] <= nominal.date() <= in_window[1]

    # And nothing is missing: every UTC minute whose local clock shows a listed weekday and
    # time (first instance of a repeated hour) inside the window is planned.
    first = start.replace(second=0, microsecond=0)
    if first < start:
        first += timedelta(minutes=1)
    planned = {(o.station_id, o.at) for o in got}
    for station in stations.values():
        zone = ZoneInfo(station.timezone)
        minute = first
        while minute < end:
            local = minute.astimezone(zone)
            if (
                local.fold == 0
                and local.weekday() in weekdays
                and local.time().replace(fold=0) in recurrence.times
                and in_window[0] <= local.date() <= in_window[1]
            ):
                assert (station.id, minute) in planned, (station, local)
            minute += timedelta(minutes=1)
