"""Staff's side of the residents' pages: replacing a commune's calendar URL when it leaked."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import select

from broadcaster.core.models import Area, Role, Station
from broadcaster.outreach.calendars import rotate_secret
from web.auth import acting_user, roles_required
from web.db import get_session

bp = Blueprint("public_admin", __name__)


class RotateForm(FlaskForm):
    """CSRF only."""


@bp.post("/stations/<code>/calendar/rotate")
@roles_required(Role.ADMIN)
def rotate_calendar(code: str):
    if not RotateForm().validate_on_submit():
        abort(400)
    session = get_session()
    station = session.exec(select(Station).where(Station.code == code.upper())).first()
    commune = session.get(Area, station.area_id) if station else None
    if station is None or commune is None:
        abort(404)
    rotate_secret(session, commune, actor=acting_user())
    session.commit()
    current_app.logger.info("calendar URL of %s replaced", commune.code)
    flash(_("Đã đổi địa chỉ lịch phát của %(name)s: địa chỉ cũ hết hiệu lực.", name=commune.name))
    return redirect(url_for("stations.show", code=station.code))


bp.add_app_template_global(RotateForm, "CalendarRotateForm")
