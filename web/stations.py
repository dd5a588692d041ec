"""Stations: their health, recent plays and events, and their agent tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Area, Occurrence, PlayEvent, Role, Station, StationBeat
from broadcaster.stations.api import revoke_token, rotate_token
from broadcaster.stations.monitoring import health, health_of
from web.auth import acting_user, roles_required
from web.db import get_session

bp = Blueprint("stations", __name__)
VIEWERS = (Role.ADMIN, Role.APPROVER, Role.EDITOR)


class TokenForm(FlaskForm):
    """CSRF only."""


def _station(code: str) -> Station:
    station = get_session().exec(select(Station).where(Station.code == code.upper())).first()
    if station is None:
        abort(404)
    return station


@bp.get("/stations")
@roles_required(*VIEWERS)
def index():
    session = get_session()
    stations = session.exec(select(Station).order_by(Station.code)).all()
    communes = dict(session.exec(select(Area.id, Area.name)).all())
    rows = health(session, list(stations), now=utcnow())
    order = {"offline": 0, "late": 1, "never": 2, "online": 3, "not_applicable": 4}
    rows.sort(key=lambda h: (order[h.state], h.station.code))
    return render_template("stations/index.html", rows=rows, communes=communes)


@bp.get("/stations/<code>")
@roles_required(*VIEWERS)
def show(code: str):
    session = get_session()
    station = _station(code)
    beat = session.get(StationBeat, station.id)
    events = session.exec(
        select(PlayEvent)
        .where(PlayEvent.station_id == station.id)
        .order_by(PlayEvent.at.desc())
        .limit(30)
    ).all()
    last_play = session.exec(
        select(Occurrence)
        .where(Occurrence.station_id == station.id, Occurrence.started_at.is_not(None))
        .order_by(Occurrence.started_at.desc())
    ).first()
    return render_template(
        "stations/show.html",
        station=station,
        health=health_of(station, beat, now=utcnow()),
        events=events,
        last_play=last_play,
        commune=session.get(Area, station.area_id),
        form=TokenForm(),
        token=None,
    )


@bp.post("/stations/<code>/token")
@roles_required(Role.ADMIN)
def new_token(code: str):
    """A new agent token, shown once on this page; the old one stops working at once."""
    if not TokenForm().validate_on_submit():
        abort(400)
    session = get_session()
    station = _station(code)
    token = rotate_token(session, station, acting_user())
    session.commit()
    beat = session.get(StationBeat, station.id)
    return render_template(
        "stations/show.html",
        station=station,
        health=health_of(station, beat, now=utcnow()),
        events=[],
        last_play=None,
        commune=session.get(Area, station.area_id),
        form=TokenForm(),
        token=token,
    )


@bp.post("/stations/<code>/revoke")
@roles_required(Role.ADMIN)
def revoke(code: str):
    if not TokenForm().validate_on_submit():
        abort(400)
    session = get_session()
    station = _station(code)
    revoke_token(session, station, acting_user())
    session.commit()
    flash(
        _(
            "Đã thu hồi mã truy cập của đài %(code)s: máy phát không kết nối được nữa.",
            code=station.code,
        ),
        "success",
    )
    return redirect(url_for("stations.show", code=station.code))
