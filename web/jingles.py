"""Chimes: hear the shipped and uploaded ones, upload a chime, use it in the audio profile."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from broadcaster.audio import customjingles
from broadcaster.audio.customjingles import JingleError
from broadcaster.audio.profiles import ProfileError, load_profiles
from broadcaster.core.models import Role
from web.auth import acting_user, roles_required
from web.db import get_session
from web.messages import message_for

bp = Blueprint("jingles", __name__)
# The multipart envelope around a file: a request much larger than the file limit is
# refused from its Content-Length alone.
ENVELOPE_BYTES = 64 * 1024


class UploadForm(FlaskForm):
    name = StringField(
        _l("Tên chuông"), validators=[DataRequired(), Length(max=customjingles.NAME_MAX)]
    )


class UseForm(FlaskForm):
    opening = BooleanField(_l("Chuông mở đầu"))
    closing = BooleanField(_l("Chuông kết thúc"))


class ActionForm(FlaskForm):
    pass


def _settings():
    return current_app.config["SETTINGS"]


def _seconds(value: float) -> str:
    return format_decimal(round(value, 1))


def _back():
    return redirect(url_for("jingles.index"))


@bp.get("/jingles")
@roles_required(Role.ADMIN)
def index():
    settings = _settings()
    try:
        labels = {
            name: profile.label
            for name, profile in load_profiles(
                settings.profiles_dir, custom_dir=customjingles.custom_dir(settings)
            ).items()
        }
    except ProfileError:
        current_app.logger.exception("profiles")
        labels = {}
    jingles = customjingles.list_jingles(settings)
    try:
        override = customjingles.current_override(settings, settings.audio_profile)
    except JingleError:
        current_app.logger.exception("custom chimes override")
        override = None
    return render_template(
        "jingles/index.html",
        shipped=[j for j in jingles if j.source == "shipped"],
        custom=[j for j in jingles if j.source == "custom"],
        labels=labels,
        profile=settings.audio_profile,
        override=override,
        form=UploadForm(),
        use_form=UseForm(),
        action_form=ActionForm(),
        max_mb=customjingles.MAX_BYTES // (1024 * 1024),
        low=customjingles.MIN_SECONDS,
        high=customjingles.MAX_SECONDS,
        number=format_decimal,
    )


@bp.post("/jingles")
@roles_required(Role.ADMIN)
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        flash(message_for(JingleError("bad_name", "")), "error")
        return _back()
    # Werkzeug has already parsed the request (≤ MAX_CONTENT_LENGTH) for the CSRF check;
    # this refuses an obviously oversized one before copying anything into instance/.
    if (request.content_length or 0) > customjingles.MAX_BYTES + ENVELOPE_BYTES:
        flash(message_for(JingleError("too_large", "")), "error")
        return _back()
    file = request.files.get("file")
    if file is None or not file.filename:
        flash(_("Vui lòng chọn tệp âm thanh."), "error")
        return _back()
    session = get_session()
    try:
        jingle = customjingles.add_jingle(
            session,
            settings=_settings(),
            name=form.name.data,
            stream=file.stream,
            actor=acting_user(),
            original_filename=file.filename,
        )
    except JingleError as exc:
        session.rollback()
        flash(message_for(exc), "error")
        return _back()
    try:
        session.commit()
    except Exception:
        jingle.path.unlink(missing_ok=True)  # not audited, so not kept
        raise
    flash(
        _(
            "Đã tải lên chuông “%(name)s” (%(seconds)s giây).",
            name=jingle.name,
            seconds=_seconds(jingle.duration_s or 0.0),
        ),
        "success",
    )
    return _back()


@bp.get("/jingles/audio/<source>/<filename>")
@roles_required(Role.ADMIN)
def audio(source: str, filename: str):
    """A chime for the page's player: only files the listing shows, looked up by name."""
    path = customjingles.find_file(_settings(), source, filename)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="audio/wav", conditional=True, max_age=0)
    response.cache_control.no_cache = True
    return response


@bp.post("/jingles/<name>/use")
@roles_required(Role.ADMIN)
def use(name: str):
    form = UseForm()
    if not form.validate_on_submit():
        abort(400)
    chosen = (("chime_open", form.opening.data), ("chime_close", form.closing.data))
    keys = [key for key, on in chosen if on]
    session = get_session()
    try:
        profile = customjingles.use_jingle(
            session, settings=_settings(), name=name, keys=keys, actor=acting_user()
        )
    except JingleError as exc:
        session.rollback()
        if exc.reason == "not_found":
            abort(404)
        flash(message_for(exc, name=name), "error")
        return _back()
    session.commit()
    if len(keys) == 2:
        message = _(
            "Cấu hình âm thanh “%(profile)s” dùng chuông “%(name)s” để mở đầu và kết thúc.",
            profile=profile,
            name=name,
        )
    elif keys == ["chime_open"]:
        message = _(
            "Cấu hình âm thanh “%(profile)s” dùng chuông “%(name)s” để mở đầu.",
            profile=profile,
            name=name,
        )
    else:
        message = _(
            "Cấu hình âm thanh “%(profile)s” dùng chuông “%(name)s” để kết thúc.",
            profile=profile,
            name=name,
        )
    flash(message, "success")
    return _back()


@bp.post("/jingles/default")
@roles_required(Role.ADMIN)
def restore_default():
    if not ActionForm().validate_on_submit():
        abort(400)
    session = get_session()
    try:
        changed = customjingles.restore_default_chimes(
            session, settings=_settings(), actor=acting_user()
        )
    except JingleError as exc:
        session.rollback()
        flash(message_for(exc), "error")
        return _back()
    session.commit()
    if changed:
        flash(_("Đã trở lại chuông mặc định."), "success")
    else:
        flash(_("Cấu hình âm thanh đang dùng chuông mặc định."), "info")
    return _back()


@bp.post("/jingles/<name>/delete")
@roles_required(Role.ADMIN)
def delete(name: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    session = get_session()
    try:
        customjingles.delete_jingle(session, settings=_settings(), name=name, actor=acting_user())
    except JingleError as exc:
        session.rollback()
        if exc.reason == "not_found":
            abort(404)
        flash(message_for(exc, name=name), "error")
        return _back()
    session.commit()
    flash(_("Đã xoá chuông “%(name)s”.", name=name), "success")
    return _back()
