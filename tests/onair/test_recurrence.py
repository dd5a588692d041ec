"""Recurrence values: what a schedule may say, refused clearly when it cannot be read."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from broadcaster.onair.recurrence import (
    Priority,
    Recurrence,
    ScheduleSpec,
    StationTZ,
)
from tests.onair.planning import spec

# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Recurrence.weekly([], ["06:00"]), "at least one weekday"),
        (lambda: Recurrence.weekly([7], ["06:00"]), "0 \\(Monday\\) to 6 \\(Sunday\\)"),
        (lambda: Recurrence.weekly([0], []), "at least one time"),
        (lambda: Recurrence.weekly([0], ["6h"]), "HH:MM"),
        (lambda: Recurrence.weekly([0], "06:00"), "not a single value"),
        (lambda: Recurrence.weekly([0], [time(6, 0, 30)]), "whole minute"),
        (lambda: Recurrence.every(0, ["06:00"], date(2026, 1, 1)), "every_days"),
        (lambda: Recurrence.every(2, ["06:00"], None), "needs an anchor"),
        (lambda: Recurrence.every(2, ["06:00"], datetime(2026, 1, 1)), "not a datetime"),
        (lambda: Recurrence.once(None), "needs once_at"),
        (lambda: Recurrence(kind="monthly", times=(time(6),)), "kind must be one of"),
        (
            lambda: Recurrence(kind="once", once_at=datetime(2026, 1, 1), times=(time(6),)),
            "takes only once_at",
        ),
        (
            lambda: spec(
                Recurrence.once(datetime(2026, 1, 1)),
                valid_from=date(2026, 2, 1),
                valid_until=date(2026, 1, 1),
            ),
            "before valid_from",
        ),
        (lambda: spec(Recurrence.once(datetime(2026, 1, 1)), priority=3), "priority must be"),
        (
            lambda: ScheduleSpec(id=1, recurrence=Recurrence.weekly([0], ["06:00"]), station_ids=5),
            "station_ids must be a collection",
        ),
        (lambda: StationTZ(1, "Asia/Hue"), "unknown time zone"),
        (lambda: StationTZ(1, ""), "non-empty IANA name"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_it_normalises_recurrences_so_equal_ones_compare_equal():
    a = Recurrence.weekly([4, 0, 0], [time(17), "06:00", time(6)])
    b = Recurrence.weekly({0, 4}, ["06:00", "17:00"])
    assert a == b and hash(a) == hash(b)
    assert a.times == (time(6), time(17))
    assert ScheduleSpec(id=1, recurrence=a, priority=2).priority is Priority.EMERGENCY
