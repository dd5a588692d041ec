"""Recurrences in words: the summaries staff read, in Vietnamese and English."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from broadcaster.onair.recurrence import Recurrence
from broadcaster.onair.wording import describe
from tests.onair.planning import EVERY_DAY

# --------------------------------------------------------------------------- describe

TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("recurrence", "valid_from", "valid_until", "vi", "en"),
    [
        (
            Recurrence.weekly(EVERY_DAY, ["06:00", "17:00"]),
            date(2026, 12, 1),
            date(2026, 12, 31),
            "Thứ 2 đến Chủ nhật, 06:00 và 17:00, từ 01/12 đến 31/12",
            "Monday to Sunday, 06:00 and 17:00, from 01/12 to 31/12",
        ),
        (
            Recurrence.weekly([0, 1, 2, 3, 4], ["07:30"]),
            None,
            None,
            "Thứ 2 đến Thứ 6, 07:30",
            "Monday to Friday, 07:30",
        ),
        (
            Recurrence.weekly([0, 2, 4], ["06:00", "11:00", "17:00"]),
            date(2026, 12, 1),
            None,
            "Thứ 2, Thứ 4, Thứ 6, 06:00, 11:00 và 17:00, từ 01/12",
            "Monday, Wednesday, Friday, 06:00, 11:00 and 17:00, from 01/12",
        ),
        (
            Recurrence.weekly([0, 1, 2, 5, 6], ["06:00"]),
            None,
            date(2026, 12, 31),
            "Thứ 2 đến Thứ 4, Thứ 7, Chủ nhật, 06:00, đến 31/12",
            "Monday to Wednesday, Saturday, Sunday, 06:00, until 31/12",
        ),
        (
            Recurrence.weekly([6], ["06:00"]),
            date(2026, 12, 15),
            date(2027, 1, 15),
            "Chủ nhật, 06:00, từ 15/12/2026 đến 15/01/2027",
            "Sunday, 06:00, from 15/12/2026 to 15/01/2027",
        ),
        (
            Recurrence.every(3, ["06:00"], date(2026, 12, 1)),
            date(2026, 12, 1),
            None,
            "Cách 3 ngày một lần, 06:00, từ 01/12",
            "Every 3 days, 06:00, from 01/12",
        ),
        (
            Recurrence.every(3, ["06:00"], date(2026, 11, 29)),
            None,
            None,
            "Cách 3 ngày một lần tính từ 29/11, 06:00",
            "Every 3 days counting from 29/11, 06:00",
        ),
        (
            Recurrence.every(1, ["05:45"], date(2026, 11, 29)),
            None,
            None,
            "Hằng ngày, 05:45",
            "Every day, 05:45",
        ),
        (
            Recurrence.once(datetime(2026, 12, 1, 6)),
            None,
            None,
            "Một lần lúc 06:00 ngày 01/12/2026",
            "Once at 06:00 on 01/12/2026",
        ),
        (
            Recurrence.weekly([5], ["08:00"]),
            date(2027, 3, 1),
            date(2027, 3, 31),
            "Thứ 7, 08:00, từ 01/03/2027 đến 31/03/2027",
            "Saturday, 08:00, from 01/03/2027 to 31/03/2027",
        ),
    ],
)
def test_it_describes_recurrences_in_vietnamese_and_english(
    recurrence, valid_from, valid_until, vi, en
):
    assert describe(recurrence, valid_from, valid_until, today=TODAY) == vi
    assert describe(recurrence, valid_from, valid_until, lang="en", today=TODAY) == en


def test_it_refuses_an_unknown_language():
    with pytest.raises(ValueError, match="lang must be one of"):
        describe(Recurrence.weekly([0], ["06:00"]), None, None, lang="fr")
