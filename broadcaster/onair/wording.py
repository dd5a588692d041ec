"""Recurrences in words: the one-line Vietnamese (or English) summary staff read."""

from __future__ import annotations

from datetime import date

from broadcaster.onair.recurrence import Recurrence, _as_date

# The one list of day names, Monday first (date.weekday()), for summaries and calendars.
DAY_NAMES: dict[str, tuple[str, ...]] = {
    "vi": ("Thứ 2", "Thứ 3", "Thứ 4", "Thứ 5", "Thứ 6", "Thứ 7", "Chủ nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

_WORDS = {
    "vi": {
        "days": DAY_NAMES["vi"],
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
        "days": DAY_NAMES["en"],
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
