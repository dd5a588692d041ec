"""The week calendar page: one station's plays, or an area's folded per schedule, by day.

It owns reading the page's arguments (station, area, week) and the labels and colours of
play statuses; the computation is broadcaster.onair.calendar. The route belongs to the
schedules blueprint (registered in web/schedules.py), so its endpoint stays
schedules.calendar.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    Area,
    OccurrenceStatus,
    Station,
)
from broadcaster.newsroom.workflow import WRITERS
from broadcaster.onair.calendar import (
    area_days,
    area_stations,
    calendar_rows,
    day_label,
    station_days,
    week_of,
)
from broadcaster.onair.reasons import reason_vi
from web.auth import roles_required
from web.db import get_session
from web.schedule_forms import (
    MAX_ID,
    PRIORITY_LABELS,
    area_choices,
    lang,
    station_labels,
)


def _settings():
    return current_app.config["SETTINGS"]


# What the calendar says about a play: the plan's view ("upcoming", "unrecorded") or the
# status of its occurrence row.
STATUS_LABELS = {
    "upcoming": _l("Sẽ phát"),
    "unrecorded": _l("Không có ghi nhận"),
    OccurrenceStatus.PLANNED: _l("Đã lên lịch"),
    OccurrenceStatus.RENDERED: _l("Đã có âm thanh"),
    OccurrenceStatus.DISPATCHED: _l("Đã chuyển đến đài"),
    OccurrenceStatus.PLAYING: _l("Đang phát"),
    OccurrenceStatus.PLAYED: _l("Đã phát"),
    OccurrenceStatus.FAILED: _l("Phát lỗi"),
    OccurrenceStatus.MISSED: _l("Bị lỡ"),
    OccurrenceStatus.SKIPPED: _l("Bị bỏ qua"),
}
# Existing pill colours in static/style.css: grey, yellow, green, red.
STATUS_CLASSES = {
    "upcoming": "status-draft",
    "unrecorded": "status-draft",
    OccurrenceStatus.PLANNED: "status-draft",
    OccurrenceStatus.RENDERED: "status-draft",
    OccurrenceStatus.DISPATCHED: "status-submitted",
    OccurrenceStatus.PLAYING: "status-submitted",
    OccurrenceStatus.PLAYED: "status-approved",
    OccurrenceStatus.FAILED: "status-returned",
    OccurrenceStatus.MISSED: "status-returned",
    OccurrenceStatus.SKIPPED: "status-returned",
}

# --- the week calendar ---------------------------------------------------------------------


def reason_text(reason: str) -> str:
    """A reason the scheduler or the player wrote (English, for logs), as staff read it."""
    return reason_vi(reason, translate=_)


def _week_start(text: str, today: date) -> date:
    try:
        day = date.fromisoformat(text) if text else today
    except ValueError:
        abort(400)
    if not 1970 <= day.year <= 2200:
        abort(400)
    return day - timedelta(days=day.weekday())


@roles_required(*WRITERS)
def calendar():
    session = get_session()
    settings = _settings()
    station = area = None
    if code := request.args.get("station", "").strip():
        station = session.exec(select(Station).where(Station.code == code.upper())).first()
        if station is None:
            abort(404)
        stations = [station]
        zone_name = station.timezone
    elif (area_id := request.args.get("area", "").strip()).isdecimal() and int(area_id) < MAX_ID:
        area = session.get(Area, int(area_id))
        if area is None:
            abort(404)
        stations = area_stations(session, area)
        zone_name = settings.timezone
    elif area_id:
        abort(400)
    else:
        stations = list(
            session.exec(select(Station).where(Station.is_active.is_(True)).order_by(Station.code))
        )
        zone_name = settings.timezone
    zone = ZoneInfo(zone_name)
    now = utcnow()
    today = now.astimezone(zone).date()
    week = week_of(_week_start(request.args.get("week", "").strip(), today), zone)
    monday, days = week.monday, week.days
    rows = calendar_rows(
        session, stations, week.start, week.end, now=now, describe_reason=reason_text
    )
    per_day = (station_days if station is not None else area_days)(rows, days, zone)

    def week_url(day: date) -> str:
        args = {"week": day.isoformat()}
        if station is not None:
            args["station"] = station.code
        elif area is not None:
            args["area"] = area.id
        return url_for("schedules.calendar", **args)

    return render_template(
        "schedules/calendar.html",
        station=station,
        area=area,
        station_count=len(stations),
        zone_name=zone_name,
        zone=zone,
        days=[(day, day_label(day, lang()), per_day.get(day, [])) for day in days],
        today=today,
        monday=monday,
        conflict_count=sum(1 for r in rows if r.order == 1),
        previous_url=week_url(monday - timedelta(days=7)),
        next_url=week_url(monday + timedelta(days=7)),
        this_week_url=week_url(today),
        station_choices=station_labels(session),
        area_choices=area_choices(session),
        status_labels=STATUS_LABELS,
        status_classes=STATUS_CLASSES,
        priority_labels=PRIORITY_LABELS,
    )
