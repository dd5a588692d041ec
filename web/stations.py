"""Stations: their health, recent plays and events, their agent tokens, and their control.

Control (issue 15): an admin sends the station's agent a command (test tone, volume,
amplifier on/off, sync now, restart) and sees its result here; an admin or the
station's operator sets the order of colliding priority items by origin level.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import select

from broadcaster.accountability.reports import EVENT_LABELS
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import (
    Area,
    Occurrence,
    OperatorStation,
    PlayEvent,
    Role,
    Station,
    StationBeat,
)
from broadcaster.onair import collision
from broadcaster.stations import commands
from broadcaster.stations.api import revoke_token, rotate_token
from broadcaster.stations.monitoring import health, health_of
from web.auth import acting_user, roles_required
from web.db import get_session, writes_on_get
from web.messages import message_for

bp = Blueprint("stations", __name__)
VIEWERS = (Role.ADMIN, Role.APPROVER, Role.EDITOR)
# Operators see the page of the stations they look after, to set its collision order.
PAGE_VIEWERS = (*VIEWERS, Role.OPERATOR)
ORDERS = [
    (0, 1, 2),
    (0, 2, 1),
    (1, 0, 2),
    (1, 2, 0),
    (2, 0, 1),
    (2, 1, 0),
]


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


def command_label(command) -> str:
    """What the province asked, in Vietnamese, for the command log."""
    args = json.loads(command.args or "{}")
    if command.kind == commands.AMPLIFIER:
        return _("Bật loa") if args.get("on") else _("Tắt loa")
    if command.kind == commands.SET_VOLUME:
        return _("Đặt âm lượng %(percent)s%%", percent=args.get("percent", "?"))
    labels = {
        commands.TEST_TONE: _("Phát âm thử"),
        commands.SYNC: _("Đồng bộ ngay"),
        commands.RESTART: _("Khởi động lại agent"),
    }
    # A kind this page does not know yet (a newer server's): still named, in a sentence.
    return labels.get(command.kind) or _("Lệnh %(kind)s", kind=command.kind)


def _looks_after(station: Station) -> bool:
    """Whether the logged-in user may set the station's order: an admin, or its operator."""
    user = acting_user()
    if user is None:
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.OPERATOR:
        return False
    return get_session().get(OperatorStation, (user.id, station.id)) is not None


def _page(
    station: Station,
    *,
    token: str | None = None,
    with_history: bool = True,
    volume: str = "",
    volume_error: str = "",
) -> str:
    """The station's page; `volume` and `volume_error`: a refused volume, shown as typed."""
    session = get_session()
    user = acting_user()
    if user is not None and user.role == Role.OPERATOR and not _looks_after(station):
        abort(403)
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
    assert station.id is not None
    return render_template(
        "stations/show.html",
        station=station,
        health=health_of(station, beat, now=utcnow()),
        events=events if with_history else [],
        event_labels=EVENT_LABELS,
        last_play=last_play if with_history else None,
        commune=session.get(Area, station.area_id),
        form=TokenForm(),
        token=token,
        commands=commands.recent(session, station.id, now=utcnow()),
        order=collision.station_order(session, station.id),
        orders=ORDERS,
        may_order=_looks_after(station),
        command_label=command_label,
        volume=volume,
        volume_error=volume_error,
    )


@bp.get("/stations/<code>")
@roles_required(*PAGE_VIEWERS)
@writes_on_get  # a command no agent picked up in time is marked expired as it is shown
def show(code: str):
    station = _station(code)
    page = _page(station)
    get_session().commit()
    return page


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
    page = _page(station, token=token, with_history=False)
    session.commit()
    return page


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


@bp.post("/stations/<code>/commands")
@roles_required(Role.ADMIN)
def send_command(code: str):
    """Queue a command for the station's agent; it acts at its next contact."""
    if not TokenForm().validate_on_submit():
        abort(400)
    session = get_session()
    station = _station(code)
    kind = request.form.get("kind", "")
    args: dict[str, object] = {}
    if kind == "set_volume":
        args = {"percent": request.form.get("percent", "").strip()}
    elif kind in ("amplifier_on", "amplifier_off"):
        kind, args = commands.AMPLIFIER, {"on": kind == "amplifier_on"}
    try:
        commands.send_command(
            session, station=station, kind=kind, args=args, actor=acting_user(), now=utcnow()
        )
        session.commit()
    except BroadcasterError as exc:
        session.rollback()
        if exc.code == "bad_volume":
            # Typed, so shown again as typed beside why, as the other forms do; a flash
            # after a redirect would lose it.
            page = _page(
                _station(code), volume=str(args.get("percent", "")), volume_error=message_for(exc)
            )
            session.commit()  # what commands.recent() expired while reading the log
            return page, 422
        flash(message_for(exc), "error")
    else:
        flash(
            _("Đã gửi lệnh. Máy phát sẽ thực hiện khi kết nối lần tới; kết quả hiện ở bảng lệnh."),
            "success",
        )
    return redirect(url_for("stations.show", code=station.code) + "#commands")


@bp.post("/stations/<code>/order")
@roles_required(Role.ADMIN, Role.OPERATOR)
def set_order(code: str):
    """The order of colliding priority items at this station, by origin level."""
    if not TokenForm().validate_on_submit():
        abort(400)
    session = get_session()
    station = _station(code)
    if not _looks_after(station):
        abort(403)
    try:
        order = [int(part) for part in request.form.get("order", "").split(",")]
        collision.set_station_order(session, station=station, order=order, actor=acting_user())
        session.commit()
    except ValueError as exc:  # a BroadcasterError is a ValueError; so is int("x")
        session.rollback()
        error = (
            exc
            if isinstance(exc, BroadcasterError)
            else BroadcasterError("bad order", code="bad_order")
        )
        flash(message_for(error), "error")
    else:
        flash(_("Đã lưu thứ tự phát khi các bản tin ưu tiên trùng giờ."), "success")
    return redirect(url_for("stations.show", code=station.code) + "#order")
