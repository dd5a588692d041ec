"""An approver puts an approved version on the residents' "Nghe lại" pages, or takes it off."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from sqlmodel import select

from broadcaster.core.models import Role, Script, ScriptVersion
from broadcaster.newsroom.workflow import WorkflowError, set_public
from web.auth import acting_user, roles_required
from web.db import get_session
from web.messages import message_for
from web.script_forms import PublicForm


@roles_required(Role.ADMIN, Role.APPROVER)
def set_public_view(script_id: int, number: int):
    form = PublicForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    script = session.get(Script, script_id)
    version = session.exec(
        select(ScriptVersion).where(
            ScriptVersion.script_id == script_id, ScriptVersion.number == number
        )
    ).first()
    if script is None or version is None:
        abort(404)
    public = bool(form.public.data)
    try:
        set_public(session=session, version=version, actor=acting_user(), public=public)
    except WorkflowError as exc:
        session.rollback()
        flash(message_for(exc), "error")
        return redirect(url_for("scripts.show", script_id=script_id)), 303
    session.commit()
    if public:
        flash(_("Đã đưa phiên bản %(n)d lên trang Nghe lại.", n=number), "success")
    else:
        flash(_("Đã gỡ phiên bản %(n)d khỏi trang Nghe lại.", n=number), "success")
    return redirect(url_for("scripts.show", script_id=script_id))
