"""Schedules: what plays where and when, the week calendar, and "Phát ngay"."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlmodel import Session, col, select

from broadcaster.core.areas import communes_of
from broadcaster.core.config import local_today
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    Area,
    Schedule,
    ScheduleTarget,
    Script,
    ScriptVersion,
    Station,
    StreamSource,
)
from broadcaster.newsroom.workflow import REVIEWERS, WRITERS
from broadcaster.onair.calendar import (
    day_name,
)
from broadcaster.onair.calendar import next_plays as upcoming_plays
from broadcaster.onair.schedules import (
    ScheduleError,
    ScheduleInput,
    broadcast_now,
    playable,
    save_schedule,
    set_active,
    summary,
)
from broadcaster.onair.streams import approved_streams
from web import schedule_calendar
from web.auth import acting_user, roles_required
from web.db import get_session
from web.i18n import local_time
from web.messages import message_for
from web.schedule_forms import (
    MAX_ID,
    PRIORITY_LABELS,
    ActiveForm,
    FormProblem,
    NowForm,
    ScheduleForm,
    approved_scripts,
    fill_choices,
    form_errors,
    form_targets,
    lang,
    parse_form_times,
    selected_fallback,
    selected_script,
    selected_stream,
)

bp = Blueprint("schedules", __name__)
bp.add_url_rule("/schedules/calendar", view_func=schedule_calendar.calendar)

PREVIEW_PLAYS = 5


def _settings():
    return current_app.config["SETTINGS"]


# --- words for a schedule ------------------------------------------------------------------


def _active_stations_per_commune(session: Session) -> Counter:
    return Counter(session.exec(select(Station.area_id).where(Station.is_active.is_(True))).all())


def targets_text(session: Session, schedule: Schedule, per_commune: Counter | None = None) -> str:
    """ "Tất cả các đài", "Thành phố Huế (40 đài)", "3 đài", or several of these."""
    if schedule.targets_all:
        return _("Tất cả các đài")
    per_commune = per_commune if per_commune is not None else _active_stations_per_commune(session)
    targets = session.exec(
        select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
    ).all()
    parts = []
    for target in targets:
        if target.area_id and (area := session.get(Area, target.area_id)):
            count = sum(per_commune[c.id] for c in communes_of(session, area))
            parts.append(
                ngettext("%(name)s (%(num)d đài)", "%(name)s (%(num)d đài)", count, name=area.name)
            )
    stations = sum(1 for t in targets if t.station_id)
    if stations:
        parts.append(ngettext("%(num)d đài", "%(num)d đài", stations))
    return ", ".join(parts) or _("Chưa chọn nơi phát")


def summary_text(schedule: Schedule) -> str:
    try:
        return summary(schedule, today=local_today(_settings()), lang=lang())
    except ScheduleError:
        return "—"


def _station_codes(session: Session, schedule: Schedule) -> list[str]:
    ids = [
        t.station_id
        for t in session.exec(
            select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
        )
        if t.station_id
    ]
    if not ids:
        return []
    return list(session.exec(select(Station.code).where(col(Station.id).in_(ids))))


# --- list, create, edit --------------------------------------------------------------------


@bp.get("/schedules")
@roles_required(*WRITERS)
def index():
    session = get_session()
    schedules = session.exec(
        select(Schedule).order_by(Schedule.is_active.desc(), Schedule.name)
    ).all()
    scripts = {s.id: s for s in session.exec(select(Script))}
    streams = {s.id: s for s in session.exec(select(StreamSource))}
    per_commune = _active_stations_per_commune(session)
    rows = []
    for schedule in schedules:
        pinned_id = schedule.pinned_version_id
        pinned = session.get(ScriptVersion, pinned_id) if pinned_id else None
        rows.append(
            dict(
                schedule=schedule,
                script=scripts.get(schedule.script_id) if schedule.script_id else None,
                stream=streams.get(schedule.stream_id) if schedule.stream_id else None,
                fallback=scripts.get(schedule.fallback_script_id)
                if schedule.fallback_script_id
                else None,
                summary=summary_text(schedule),
                targets=targets_text(session, schedule, per_commune),
                station_codes=", ".join(_station_codes(session, schedule)),
                priority=PRIORITY_LABELS.get(schedule.priority, schedule.priority),
                pinned=pinned,
                playable=playable(session, schedule),
            )
        )
    return render_template(
        "schedules/index.html",
        rows=rows,
        may_broadcast=current_user.role in REVIEWERS,
    )


def _schedule_input(form: ScheduleForm, session: Session, scripts: list[Script]) -> ScheduleInput:
    if form.source.data == "relay":
        data = ScheduleInput(
            name=form.name.data or "",
            script=None,
            stream=selected_stream(form, approved_streams(session)),
            duration_min=form.duration_min.data,
            fallback_script=selected_fallback(form, scripts),
            kind=form.kind.data,
        )
        if data.duration_min is None:
            raise FormProblem(_("Thời lượng tiếp sóng phải từ 1 đến 1440 phút."))
    else:
        data = _script_input(form, session, scripts)
    data.valid_from = form.valid_from.data
    data.valid_until = form.valid_until.data
    data.priority = int(form.priority.data)
    _recurrence_input(form, data)
    data.station_ids, data.area_ids, data.targets_all = form_targets(form, session)
    return data


def _script_input(form: ScheduleForm, session: Session, scripts: list[Script]) -> ScheduleInput:
    script = selected_script(form, scripts)
    pinned = None
    if form.version.data:
        text = form.version.data
        pinned = (
            session.get(ScriptVersion, int(text))
            if text.isdecimal() and int(text) < MAX_ID
            else None
        )
        if pinned is None or pinned.script_id != script.id:
            raise FormProblem(_("Phiên bản đã chọn thuộc một kịch bản khác."))
    return ScheduleInput(
        name=form.name.data or "",
        script=script,
        kind=form.kind.data,
        repeat=int(form.repeat.data or 1),
        pinned_version=pinned,
    )


def _recurrence_input(form: ScheduleForm, data: ScheduleInput) -> None:
    kind = data.kind
    if kind == "once":
        if not form.once_date.data or not (form.once_time.data or "").strip():
            raise FormProblem(_("Hãy chọn ngày và giờ phát."))
        times = parse_form_times(form.once_time.data)
        if len(times) != 1:
            raise FormProblem(_("Hãy chọn ngày và giờ phát."))
        data.once_at = datetime.combine(form.once_date.data, time.fromisoformat(times[0]))
    else:
        data.times = parse_form_times(form.times.data)
        if not data.times:
            raise FormProblem(_("Hãy nhập ít nhất một giờ phát."))
        if kind == "weekly":
            data.weekdays = sorted(set(form.weekdays.data or []))
            if not data.weekdays:
                raise FormProblem(_("Hãy chọn ít nhất một ngày trong tuần."))
        else:
            data.every_days = int(form.every_days.data or 1)
            data.anchor = form.anchor.data or form.valid_from.data or local_today(_settings())


def _prefill(form: ScheduleForm, session: Session, schedule: Schedule) -> None:
    targets = session.exec(
        select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
    ).all()
    form.name.data = schedule.name
    form.source.data = "relay" if schedule.stream_id else "script"
    form.script.data = str(schedule.script_id or "")
    form.stream.data = str(schedule.stream_id or "")
    form.duration_min.data = schedule.duration_min or 30
    form.fallback.data = str(schedule.fallback_script_id or "")
    form.version.data = str(schedule.pinned_version_id or "")
    form.kind.data = schedule.kind
    form.weekdays.data = [int(d) for d in schedule.weekdays.split(",") if d.strip()]
    form.times.data = ", ".join(t for t in schedule.times.split(",") if t)
    form.every_days.data = schedule.every_days
    form.anchor.data = schedule.anchor
    if schedule.once_at:
        once = datetime.fromisoformat(schedule.once_at)
        form.once_date.data, form.once_time.data = once.date(), once.strftime("%H:%M")
    form.valid_from.data = schedule.valid_from
    form.valid_until.data = schedule.valid_until
    form.priority.data = schedule.priority
    form.repeat.data = schedule.repeat
    form.targets_all.data = schedule.targets_all
    form.stations.data = [t.station_id for t in targets if t.station_id]
    form.areas.data = [t.area_id for t in targets if t.area_id]


def next_plays(session: Session, schedule: Schedule, *, now: datetime) -> list[dict]:
    """The schedule's next plays as the editor lists them: "Thứ 4, 02/12/2026 06:00", 3 đài."""
    zone = ZoneInfo(_settings().timezone)
    return [
        dict(
            at=f"{day_name(at.astimezone(zone).weekday(), lang())}, {local_time(at)}",
            stations=ngettext("%(num)d đài", "%(num)d đài", count),
        )
        for at, count in upcoming_plays(session, schedule, now=now, limit=PREVIEW_PLAYS)
    ]


def _calendar_target(session: Session, schedule: Schedule) -> dict:
    """Where "see it on the calendar" goes: its one station, its first area, or everything."""
    targets = session.exec(
        select(ScheduleTarget).where(ScheduleTarget.schedule_id == schedule.id)
    ).all()
    for target in targets:
        if target.station_id and (station := session.get(Station, target.station_id)):
            return {"station": station.code}
    for target in targets:
        if target.area_id:
            return {"area": target.area_id}
    return {}


def _editor(form: ScheduleForm, schedule: Schedule | None, problems: list[str], status: int):
    session = get_session()
    details = None
    if schedule is not None:
        details = dict(
            summary=summary_text(schedule),
            targets=targets_text(session, schedule),
            priority=PRIORITY_LABELS.get(schedule.priority, schedule.priority),
            plays=next_plays(session, schedule, now=utcnow()),
            calendar=_calendar_target(session, schedule),
            playable=playable(session, schedule),
            relay=schedule.stream_id is not None,
        )
    return (
        render_template(
            "schedules/edit.html",
            form=form,
            schedule=schedule,
            details=details,
            problems=problems,
            active_form=ActiveForm(),
        ),
        status,
    )


def _save(form: ScheduleForm, schedule: Schedule | None):
    """Validate and save; returns a redirect, or the problems to show."""
    session = get_session()
    scripts = approved_scripts(session)
    fill_choices(form, session, scripts)
    if request.method != "POST":
        return None, []
    if not form.validate_on_submit():
        return None, form_errors(form)
    try:
        data = _schedule_input(form, session, scripts)
        saved = save_schedule(session=session, data=data, actor=acting_user(), schedule=schedule)
    except FormProblem as exc:
        session.rollback()
        return None, [str(exc)]
    except ScheduleError as exc:
        session.rollback()
        return None, [message_for(exc)]
    session.commit()
    flash(_("Đã lưu lịch phát: %(summary)s.", summary=summary_text(saved)), "success")
    return redirect(url_for("schedules.edit", schedule_id=saved.id)), []


@bp.route("/schedules/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def new():
    form = ScheduleForm()
    if request.method == "GET":
        form.weekdays.data = list(range(7))
        form.valid_from.data = local_today(_settings())
        if (script_id := request.args.get("script", "")).isdigit():
            form.script.data = script_id
    response, problems = _save(form, None)
    if response is not None:
        return response
    return _editor(form, None, problems, 400 if request.method == "POST" else 200)


def _get_schedule(schedule_id: int) -> Schedule:
    schedule = get_session().get(Schedule, schedule_id)
    if schedule is None:
        abort(404)
    return schedule


@bp.route("/schedules/<int:schedule_id>", methods=["GET", "POST"])
@roles_required(*WRITERS)
def edit(schedule_id: int):
    schedule = _get_schedule(schedule_id)
    form = ScheduleForm()
    if request.method == "GET":
        _prefill(form, get_session(), schedule)
    response, problems = _save(form, schedule)
    if response is not None:
        return response
    return _editor(form, schedule, problems, 400 if request.method == "POST" else 200)


@bp.post("/schedules/<int:schedule_id>/active")
@roles_required(*WRITERS)
def toggle(schedule_id: int):
    schedule = _get_schedule(schedule_id)
    wanted = request.form.get("active", "")
    if not ActiveForm().validate_on_submit() or wanted not in ("0", "1"):
        abort(400)
    session = get_session()
    try:
        set_active(session=session, schedule=schedule, active=wanted == "1", actor=acting_user())
    except ScheduleError as exc:
        session.rollback()
        flash(message_for(exc), "error")
        return redirect(url_for("schedules.edit", schedule_id=schedule.id))
    session.commit()
    if schedule.is_active:
        flash(_("Đã bật lại lịch phát “%(name)s”.", name=schedule.name), "success")
    else:
        flash(
            _("Đã tạm dừng lịch phát “%(name)s”: lịch này không phát nữa.", name=schedule.name),
            "success",
        )
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("schedules.edit", schedule_id=schedule.id)
    return redirect(target)


# --- Phát ngay -----------------------------------------------------------------------------


@bp.route("/schedules/now", methods=["GET", "POST"])
@roles_required(*REVIEWERS)
def now():
    session = get_session()
    scripts = approved_scripts(session)
    form = NowForm()
    fill_choices(form, session, scripts)
    problems: list[str] = []
    if request.method == "GET" and (script_id := request.args.get("script", "")).isdigit():
        form.script.data = script_id
    if request.method == "POST":
        if not form.validate_on_submit():
            problems = form_errors(form)
        else:
            try:
                script = selected_script(form, scripts)
                station_ids, area_ids, targets_all = form_targets(form, session)
                schedule = broadcast_now(
                    session=session,
                    script=script,
                    actor=acting_user(),
                    station_ids=station_ids,
                    area_ids=area_ids,
                    targets_all=targets_all,
                    now=utcnow(),
                    timezone=_settings().timezone,
                )
            except FormProblem as exc:
                session.rollback()
                problems = [str(exc)]
            except ScheduleError as exc:
                session.rollback()
                problems = [message_for(exc)]
            else:
                session.commit()
                targets = targets_text(session, schedule)
                flash(
                    _(
                        "Đã phát ngay “%(title)s” đến %(targets)s, mức khẩn cấp.",
                        title=script.title,
                        targets=targets,
                    ),
                    "success",
                )
                target = _calendar_target(session, schedule)
                if len(station_ids) + len(area_ids) != 1:
                    target = {}
                return redirect(url_for("schedules.calendar", **target))
    return (
        render_template("schedules/now.html", form=form, problems=problems),
        400 if request.method == "POST" else 200,
    )
