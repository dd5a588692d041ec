"""The broadcast log, the compliance report and the report upward, with their exports."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from flask_babel import gettext as _
from sqlmodel import func, select

from broadcaster.accountability import upward_export
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
from broadcaster.accountability.upward import (
    TYPE_VI,
    UpwardError,
    UpwardReport,
    parse_period,
    upward_report,
)
from broadcaster.core.config import local_today
from broadcaster.core.models import Area, AreaKind, Campaign, Role, Script, Station
from web.auth import roles_required
from web.db import get_session
from web.messages import message_for

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
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
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


# --- the report upward (TT39) ------------------------------------------------------------------

UPWARD_FORMATS = {
    "xlsx": upward_export.XLSX_TYPE,
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def _upward_areas() -> list[Area]:
    """Provinces and groups with stations, then the communes that have one."""
    session = get_session()
    communes = session.exec(
        select(Area).where(Area.id.in_(select(Station.area_id))).order_by(Area.name)
    ).all()
    return [*_areas_with_stations(), *communes]


def _upward_request() -> UpwardReport:
    """The report the form asks for; refusals are UpwardError with a code (never English)."""
    session = get_session()
    args = request.args
    first, last = parse_period(args.get("from", ""), args.get("to", ""))
    area = _area()
    if area is None:
        raise UpwardError("no area chosen", code="no_area")
    campaign = None
    if args.get("campaign"):
        campaign_id = _int_arg("campaign")
        campaign = session.get(Campaign, campaign_id) if campaign_id else None
        if campaign is None:
            raise UpwardError("no such campaign", code="unknown_campaign", slug="")
    return upward_report(
        session,
        area=area,
        first=first,
        last=last,
        timezone=current_app.config["SETTINGS"].timezone,
        campaign=campaign,
    )


@bp.get("/reports/upward")
@roles_required(*READERS)
def upward():
    session = get_session()
    today = local_today(current_app.config["SETTINGS"])
    report = error = None
    status = 200
    fmt = request.args.get("format", "")
    table = request.args.get("table", "")
    if request.args.get("from") or request.args.get("to") or fmt:
        try:
            if fmt and fmt not in UPWARD_FORMATS:
                raise UpwardError("unknown format", code="unknown_format")
            if fmt == "csv" and table not in upward_export.TABLES:
                raise UpwardError("a CSV holds one table", code="unknown_table")
            report = _upward_request()
        except UpwardError as exc:
            error, status = message_for(exc), 400
    if report is not None and fmt:
        stem = upward_export.file_stem(report)
        if fmt == "xlsx":
            data: str | bytes = upward_export.to_xlsx(report)
        elif fmt == "csv":
            data, stem = upward_export.to_csv(report, table), f"{stem}-{table}"
        else:
            data = upward_export.to_json(report)
        return _download(data, f"{stem}.{fmt}", UPWARD_FORMATS[fmt])
    default_last = today - timedelta(days=1)
    return (
        render_template(
            "reports/upward.html",
            report=report,
            error=error,
            args=request.args,
            default_first=default_last.replace(day=1),
            default_last=default_last,
            areas=_upward_areas(),
            campaigns=session.exec(select(Campaign).order_by(Campaign.name)).all(),
            type_vi=TYPE_VI,
            status_vi=upward_export.STATUS_VI,
        ),
        status,
    )
