"""The broadcast log and the compliance report, with CSV/XLSX exports and a print view."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from flask_babel import gettext as _
from sqlmodel import func, select

from broadcaster.accountability.adoption import parse_day
from broadcaster.accountability.reports import (
    COMPLIANCE_HEADERS,
    EVENT_LABELS,
    LOG_HEADERS,
    LogFilter,
    compliance,
    compliance_rows,
    csv_line,
    log_query,
    log_rows,
    to_csv,
    to_xlsx,
    totals,
    trend,
)
from broadcaster.core.config import local_today
from broadcaster.core.models import Area, AreaKind, Campaign, Role, Script, Station
from web.auth import roles_required
from web.db import get_session

bp = Blueprint("reports", __name__)
READERS = (Role.ADMIN, Role.APPROVER)
PAGE_SIZE = 100
MAX_DAYS = 400


def _period(default_days: int) -> tuple[date, date, str | None]:
    today = local_today(current_app.config["SETTINGS"])
    error = None
    try:
        last = parse_day(request.args["to"]) if request.args.get("to") else today
        first = (
            parse_day(request.args["from"])
            if request.args.get("from")
            else last - timedelta(days=default_days - 1)
        )
    except ValueError:
        first, last = today - timedelta(days=default_days - 1), today
        error = _("Ngày không hợp lệ; đang hiển thị %(n)d ngày gần nhất.", n=default_days)
    if last < first:
        first, last = last, first
    if (last - first).days > MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS)
        error = _("Khoảng thời gian tối đa %(n)d ngày.", n=MAX_DAYS)
    return first, last, error


def _area() -> Area | None:
    value = request.args.get("area", "")
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return get_session().get(Area, int(value))
    return None


def _areas_with_stations() -> list[Area]:
    session = get_session()
    commune_ids = select(Station.area_id)
    provinces = session.exec(
        select(Area).where(
            Area.kind == AreaKind.PROVINCE,
            Area.id.in_(select(Area.parent_id).where(Area.id.in_(commune_ids))),
        )
    ).all()
    groups = session.exec(select(Area).where(Area.kind == AreaKind.GROUP).order_by(Area.name)).all()
    return [*provinces, *groups]


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def _download(data: bytes | str, name: str, mimetype: str) -> Response:
    return Response(
        data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"}
    )


@bp.get("/reports/compliance")
@roles_required(*READERS)
def compliance_report():
    first, last, error = _period(7)
    area = _area()
    days = compliance(get_session(), first=first, last=last, area=area)
    ranked = totals(days)
    fmt = request.args.get("format")
    stem = f"ket-qua-phat-{first.isoformat()}-{last.isoformat()}"
    if fmt == "csv":
        return _download(
            to_csv(COMPLIANCE_HEADERS, compliance_rows(ranked)), f"{stem}.csv", "text/csv"
        )
    if fmt == "xlsx":
        data = to_xlsx(COMPLIANCE_HEADERS, compliance_rows(ranked), title="Kết quả phát")
        return _download(
            data,
            f"{stem}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    daily = trend(days)
    return render_template(
        "reports/compliance.html",
        first=first,
        last=last,
        area=area,
        error=error,
        ranked=ranked,
        daily=daily,
        areas=_areas_with_stations(),
        best=max((d[2] for d in daily), default=0),
    )


def _log_filter() -> tuple[LogFilter, str | None]:
    first, last, error = _period(1)
    kind = request.args.get("kind") or None
    return (
        LogFilter(
            first=first,
            last=last,
            area=_area(),
            station_id=_int_arg("station"),
            script_id=_int_arg("script"),
            campaign_id=_int_arg("campaign"),
            kind=kind if kind in EVENT_LABELS else None,
        ),
        error,
    )


@bp.get("/logs")
@roles_required(*READERS)
def log():
    session = get_session()
    settings = current_app.config["SETTINGS"]
    log_filter, error = _log_filter()
    query = log_query(session, log_filter, settings.timezone)
    communes = dict(
        session.exec(select(Area.id, Area.name).where(Area.kind == AreaKind.COMMUNE)).all()
    )
    fmt = request.args.get("format")
    stem = f"nhat-ky-phat-{log_filter.first.isoformat()}-{log_filter.last.isoformat()}"
    if fmt == "csv":

        def generate():
            # Streamed: a month of a province's events never sits in memory at once.
            yield to_csv(LOG_HEADERS, [])
            for row in log_rows(session, query, communes):
                yield csv_line(row)

        return Response(
            stream_with_context(generate()),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={stem}.csv"},
        )
    if fmt == "xlsx":
        data = to_xlsx(LOG_HEADERS, log_rows(session, query, communes), title="Nhật ký phát")
        return _download(
            data,
            f"{stem}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = list(log_rows(session, query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE), communes))
    return render_template(
        "reports/log.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        f=log_filter,
        error=error,
        areas=_areas_with_stations(),
        stations=session.exec(select(Station).order_by(Station.code)).all(),
        scripts=session.exec(select(Script).order_by(Script.title)).all(),
        campaigns=session.exec(select(Campaign).order_by(Campaign.name)).all(),
        kinds=EVENT_LABELS,
        headers=LOG_HEADERS,
        args=request.args,
    )
