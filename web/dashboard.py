"""The dashboard: areas and their stations, and whether the scheduler is alive."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlmodel import func, select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Area, AreaKind, AreaMember, ServiceBeat, Station
from broadcaster.ops.health import SCHEDULER_SERVICE, scheduler_status
from web.auth import login_required
from web.db import get_session

bp = Blueprint("dashboard", __name__)


def _province_summaries(session) -> list[tuple[Area, int, int]]:
    """Provinces with their commune and station counts, those with stations first."""
    commune = Area.__table__.alias("commune")
    rows = session.exec(
        select(
            Area,
            func.count(func.distinct(commune.c.id)),
            func.count(func.distinct(Station.id)),
        )
        .join(commune, commune.c.parent_id == Area.id)
        .outerjoin(Station, Station.area_id == commune.c.id)
        .where(Area.kind == AreaKind.PROVINCE, commune.c.kind == AreaKind.COMMUNE)
        .group_by(Area.id)
    ).all()
    return sorted(rows, key=lambda r: (-r[2], r[0].name))


@bp.get("/")
@login_required
def index():
    session = get_session()
    provinces = _province_summaries(session)
    chosen_code = request.args.get("province")
    chosen = next((p for p, _, _ in provinces if p.code == chosen_code), None)
    if chosen is None and provinces:
        chosen = provinces[0][0]
    communes, groups = [], []
    if chosen is not None:
        communes = session.exec(
            select(Area, Station)
            .outerjoin(Station, Station.area_id == Area.id)
            .where(Area.parent_id == chosen.id, Area.kind == AreaKind.COMMUNE)
            .order_by(Area.name)
        ).all()
        groups = session.exec(
            select(Area, func.count(AreaMember.area_id))
            .outerjoin(AreaMember, AreaMember.group_id == Area.id)
            .where(Area.parent_id == chosen.id, Area.kind == AreaKind.GROUP)
            .group_by(Area.id)
            .order_by(Area.name)
        ).all()
    today_rows = []
    if chosen is not None:
        from broadcaster.accountability.reports import compliance
        from broadcaster.core.config import local_today

        today = local_today(current_app.config["SETTINGS"])
        today_rows = compliance(session, first=today, last=today, area=chosen)
    offline = []
    if communes:
        from broadcaster.stations.monitoring import health

        stations_here = [station for _, station in communes if station is not None]
        offline = [h for h in health(session, stations_here, now=utcnow()) if h.state == "offline"]
    beat = session.get(ServiceBeat, SCHEDULER_SERVICE)
    scheduler_alive = scheduler_status(
        session, now=utcnow(), heartbeat_seconds=current_app.config["SETTINGS"].heartbeat_seconds
    ).ok
    return render_template(
        "dashboard.html",
        provinces=provinces,
        chosen=chosen,
        communes=communes,
        groups=groups,
        station_count=sum(1 for _, s in communes if s is not None),
        scheduler_beat=beat,
        scheduler_alive=scheduler_alive,
        today_planned=sum(r.planned for r in today_rows),
        today_played=sum(r.played for r in today_rows),
        today_missed=[r for r in today_rows if r.missed],
        offline=offline,
    )
