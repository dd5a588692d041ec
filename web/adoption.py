"""Bluezone adoption: rates and ranks per commune, import, and "tăng cường" schedules."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from broadcaster.accountability.adoption import (
    AdoptionImportError,
    import_csv,
    import_rows,
    import_xlsx,
    standings,
)
from broadcaster.core.areas import communes_of
from broadcaster.core.config import local_today
from broadcaster.core.models import AdoptionFigure, Area, AreaKind, Role, Script, Station
from broadcaster.core.priority import Priority
from broadcaster.newsroom.workflow import WRITERS, latest_approved
from broadcaster.onair.recurrence import TimeOfDayError, parse_times
from broadcaster.onair.schedules import ScheduleError, ScheduleInput, save_schedule
from web.auth import acting_user, roles_required
from web.db import get_session
from web.messages import message_for

bp = Blueprint("adoption", __name__)
DEFAULT_TARGET = 16.27  # the province's own figure when the campaign began (%)
MAX_UPLOAD = 2 * 1024 * 1024


def _provinces() -> list[Area]:
    session = get_session()
    with_figures = select(Area.parent_id).join(AdoptionFigure, AdoptionFigure.area_id == Area.id)
    with_stations = select(Area.parent_id).join(Station, Station.area_id == Area.id)
    return list(
        session.exec(
            select(Area)
            .where(
                Area.kind == AreaKind.PROVINCE,
                Area.id.in_(with_figures.union(with_stations)),
            )
            .order_by(Area.name)
        )
    )


def _target() -> float:
    try:
        value = float(request.values.get("target", DEFAULT_TARGET))
    except ValueError:
        return DEFAULT_TARGET
    return min(100.0, max(0.0, value))


def _previous_rates(session, province: Area, latest: dict) -> dict[int, float]:
    """Each commune's rate at its figure before the latest one, for the trend arrow."""
    rates = {}
    for area_id, standing in latest.items():
        earlier = session.exec(
            select(AdoptionFigure)
            .where(AdoptionFigure.area_id == area_id, AdoptionFigure.on < standing.figure.on)
            .order_by(AdoptionFigure.on.desc())
        ).first()
        if earlier:
            rates[area_id] = earlier.installs / earlier.population
    return rates


@bp.get("/adoption")
@roles_required(*WRITERS)
def index():
    session = get_session()
    provinces = _provinces()
    chosen_id = request.args.get("province", type=int)
    province = next(
        (p for p in provinces if p.id == chosen_id), provinces[0] if provinces else None
    )
    rows, totals = [], None
    if province is not None:
        table = standings(session, province)
        previous = _previous_rates(session, province, table)
        names = {c.id: c.name for c in communes_of(session, province)}
        rows = sorted(
            (
                (names.get(area_id, "?"), area_id, s, previous.get(area_id))
                for area_id, s in table.items()
            ),
            key=lambda row: row[2].rank,
        )
        installs = sum(s.figure.installs for _n, _i, s, _p in rows)
        population = sum(s.figure.population for _n, _i, s, _p in rows)
        totals = (installs, population, installs / population if population else 0)
    scripts = [
        s
        for s in session.exec(select(Script).order_by(Script.title))
        if latest_approved(session, s)
    ]
    return render_template(
        "adoption/index.html",
        provinces=provinces,
        province=province,
        rows=rows,
        totals=totals,
        target=_target(),
        scripts=scripts,
        communes=communes_of(session, province) if province else [],
        today=local_today(current_app.config["SETTINGS"]),
    )


@bp.post("/adoption/import")
@roles_required(*WRITERS)
def upload():
    session = get_session()
    province = session.get(Area, request.form.get("province", type=int) or 0)
    file = request.files.get("file")
    back = redirect(url_for("adoption.index", province=province.id if province else None))
    if province is None or province.kind != AreaKind.PROVINCE or file is None:
        flash(_("Vui lòng chọn tỉnh và tệp CSV hoặc Excel."), "error")
        return back
    data = file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        flash(_("Tệp quá lớn (tối đa 2 MB)."), "error")
        return back
    source = (file.filename or "")[:200]
    try:
        if data[:2] == b"PK":  # by content: an .xlsx workbook is a zip archive
            result = import_xlsx(
                session, data, province=province, actor=acting_user(), source=source
            )
        else:
            result = import_csv(
                session,
                data.decode("utf-8"),
                province=province,
                actor=acting_user(),
                source=source,
            )
    except UnicodeDecodeError:
        flash(_("Tệp phải là CSV mã hoá UTF-8 hoặc bảng tính Excel .xlsx."), "error")
        return back
    except AdoptionImportError as exc:
        session.rollback()
        flash(
            _("Không nhập được: %(n)d dòng lỗi, chưa có số liệu nào được lưu.", n=len(exc.errors)),
            "error",
        )
        for row, message in exc.errors[:20]:
            flash(_("Dòng %(row)d: %(message)s", row=row, message=message), "error")
        return back
    session.commit()
    flash(
        _(
            "Đã nhập %(new)d số liệu mới, cập nhật %(updated)d.",
            new=result.created,
            updated=result.updated,
        ),
        "success",
    )
    return back


@bp.post("/adoption/figure")
@roles_required(*WRITERS)
def enter_figure():
    """One commune's figures typed in by hand: checked like an imported row."""
    session = get_session()
    area = session.get(Area, request.form.get("commune", type=int) or 0)
    back = redirect(url_for("adoption.index", province=area.parent_id if area else None))
    if area is None or area.kind != AreaKind.COMMUNE:
        flash(_("Vui lòng chọn xã, phường."), "error")
        return back
    row = [
        area.code,
        request.form.get("on", ""),
        request.form.get("installs", ""),
        request.form.get("population", ""),
    ]
    try:
        import_rows(
            session,
            [["ma_xa", "ngay", "so_cai_dat", "dan_so"], row],
            actor=acting_user(),
            source="nhập tay",
        )
    except AdoptionImportError as exc:
        session.rollback()
        flash(_("Không lưu được: %(message)s", message=exc.errors[0][1]), "error")
        return back
    session.commit()
    flash(_("Đã lưu số liệu của %(name)s.", name=area.name), "success")
    return back


@bp.post("/adoption/boost")
@roles_required(Role.ADMIN, Role.APPROVER, Role.EDITOR)
def boost():
    """ "Tăng cường": one extra schedule for the chosen low-rate communes, in one step."""
    session = get_session()
    area_ids = [int(v) for v in request.form.getlist("commune") if v.isdigit()]
    script = session.get(Script, request.form.get("script", type=int) or 0)
    back = redirect(url_for("adoption.index", province=request.form.get("province")))
    if not area_ids or script is None:
        flash(_("Hãy chọn ít nhất một xã và một kịch bản đã duyệt."), "error")
        return back
    today = local_today(current_app.config["SETTINGS"])
    days = request.form.get("days", type=int) or 14
    try:
        times = [f"{t:%H:%M}" for t in parse_times(request.form.get("times", "11:00"))]
    except TimeOfDayError as exc:
        flash(message_for(exc), "error")
        return back
    data = ScheduleInput(
        name=_(
            "Tăng cường Bluezone %(day)s (%(n)d xã)",
            day=today.strftime("%d/%m/%Y"),
            n=len(area_ids),
        ),
        script=script,
        kind="weekly",
        weekdays=list(range(7)),
        times=times,
        valid_from=today,
        valid_until=today + timedelta(days=max(1, min(days, 90)) - 1),
        priority=Priority.PRIORITY,
        area_ids=area_ids,
    )
    try:
        schedule = save_schedule(session=session, data=data, actor=acting_user())
    except ScheduleError:
        session.rollback()
        flash(_("Không tạo được lịch tăng cường: kiểm tra giờ phát và kịch bản đã duyệt."), "error")
        return back
    session.commit()
    flash(_("Đã tạo lịch tăng cường cho %(n)d xã.", n=len(area_ids)), "success")
    return redirect(url_for("schedules.edit", schedule_id=schedule.id))
