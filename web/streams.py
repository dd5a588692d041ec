"""Stream sources ("Luồng tiếp sóng"): registered and edited by an admin, reviewed by another."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Role, StreamSource, User
from broadcaster.newsroom.workflow import REVIEWERS
from broadcaster.onair import streams
from broadcaster.onair.reasons import stream_check_vi
from web.auth import acting_user, roles_required
from web.db import get_session
from web.messages import message_for

bp = Blueprint("streams", __name__)
STATUS_LABELS = {
    "draft": _l("Chờ duyệt"),
    "approved": _l("Đã duyệt"),
    "rejected": _l("Bị từ chối"),
    "retired": _l("Ngừng sử dụng"),
}


class StreamForm(FlaskForm):
    name = StringField(
        _l("Tên luồng"),
        validators=[
            DataRequired(_l("Vui lòng đặt tên cho luồng phát thanh.")),
            Length(max=120, message=_l("Tên luồng dài quá 120 ký tự.")),
        ],
    )
    url = StringField(
        _l("Địa chỉ (URL)"),
        validators=[
            DataRequired(_l("Vui lòng nhập địa chỉ của luồng.")),
            Length(max=1000, message=_l("Địa chỉ luồng dài quá 1000 ký tự.")),
        ],
    )


class ReviewForm(FlaskForm):
    comment = TextAreaField(_l("Nhận xét"), validators=[Length(max=1000)])


def _stream(stream_id: int) -> StreamSource:
    stream = get_session().get(StreamSource, stream_id)
    if stream is None:
        abort(404)
    return stream


def _listen_unlocked(url: str):
    """Check the stream with no transaction open: a check takes seconds, and a form post's
    session holds SQLite's write lock (web/db.py) that the scheduler needs meanwhile."""
    get_session().commit()
    return streams.listen(url)


@bp.get("/streams")
@roles_required(*REVIEWERS)
def index():
    session = get_session()
    rows = session.exec(select(StreamSource).order_by(StreamSource.name)).all()
    return render_template("streams/index.html", streams=rows, status_labels=STATUS_LABELS)


@bp.route("/streams/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new():
    form = StreamForm()
    if form.validate_on_submit():
        heard = _listen_unlocked(form.url.data or "")
        session = get_session()
        try:
            stream = streams.register_stream(
                session=session,
                name=form.name.data or "",
                url=form.url.data or "",
                actor=_actor(),
                heard=heard,
            )
        except BroadcasterError as exc:
            session.rollback()
            flash(message_for(exc), "error")
        else:
            session.commit()
            flash(
                _("Đã đăng ký luồng %(name)s; cần một người khác duyệt.", name=stream.name),
                "success",
            )
            return redirect(url_for("streams.show", stream_id=stream.id))
    return render_template("streams/edit.html", form=form, stream=None), (
        422 if form.errors or form.is_submitted() else 200
    )


@bp.get("/streams/<int:stream_id>")
@roles_required(*REVIEWERS)
def show(stream_id: int):
    stream = _stream(stream_id)
    return _page(stream, StreamForm(obj=stream))


@bp.post("/streams/<int:stream_id>/edit")
@roles_required(Role.ADMIN)
def edit(stream_id: int):
    """Rename, or change the address: a new address is checked and goes back to review."""
    stream = _stream(stream_id)
    form = StreamForm()
    if not form.validate_on_submit():
        return _page(stream, form, 422)
    url = (form.url.data or "").strip()
    heard = _listen_unlocked(url) if url != stream.url else None
    session = get_session()
    stream = _stream(stream_id)
    try:
        streams.edit_stream(
            session=session,
            stream=stream,
            name=form.name.data or "",
            url=url,
            actor=_actor(),
            heard=heard,
        )
    except BroadcasterError as exc:
        session.rollback()
        flash(message_for(exc), "error")
        return _page(_stream(stream_id), form, 422)
    session.commit()
    flash(_("Đã lưu luồng %(name)s.", name=stream.name), "success")
    return redirect(url_for("streams.show", stream_id=stream.id))


def _page(stream: StreamSource, form: StreamForm, status: int = 200):
    session = get_session()
    people = {u.id: u for u in session.exec(select(User))}
    actor = acting_user()
    return (
        render_template(
            "streams/edit.html",
            form=form,
            stream=stream,
            review=ReviewForm(),
            status_labels=STATUS_LABELS,
            people=people,
            may_review=actor is not None and streams.can_review(actor, stream),
        ),
        status,
    )


def _actor() -> User:
    actor = acting_user()
    if actor is None:
        abort(403)
    return actor


@bp.post("/streams/<int:stream_id>/check")
@roles_required(*REVIEWERS)
def check(stream_id: int):
    if not ReviewForm().validate_on_submit():
        abort(400)
    heard = _listen_unlocked(_stream(stream_id).url)
    session = get_session()
    stream = _stream(stream_id)
    problem = streams.recheck_stream(session=session, stream=stream, actor=_actor(), heard=heard)
    session.commit()
    if problem is None:
        detail = stream_check_vi(stream.check_detail or "", translate=_)
        flash(_("Nghe được luồng: %(detail)s.", detail=detail), "success")
    else:
        flash(message_for(problem), "error")
    return redirect(url_for("streams.show", stream_id=stream_id))


def _review(stream_id: int, action):
    form = ReviewForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    stream = _stream(stream_id)
    try:
        action(session, stream, _actor(), form.comment.data or "")
    except BroadcasterError as exc:
        session.rollback()
        flash(message_for(exc), "error")
        return None
    session.commit()
    return stream


@bp.post("/streams/<int:stream_id>/approve")
@roles_required(*REVIEWERS)
def approve(stream_id: int):
    stream = _review(
        stream_id,
        lambda session, stream, actor, _comment: streams.approve_stream(
            session=session, stream=stream, actor=actor
        ),
    )
    if stream is not None:
        flash(_("Đã duyệt luồng %(name)s: có thể lên lịch tiếp sóng.", name=stream.name), "success")
    return redirect(url_for("streams.show", stream_id=stream_id))


@bp.post("/streams/<int:stream_id>/reject")
@roles_required(*REVIEWERS)
def reject(stream_id: int):
    stream = _review(
        stream_id,
        lambda session, stream, actor, comment: streams.reject_stream(
            session=session, stream=stream, actor=actor, comment=comment
        ),
    )
    if stream is not None:
        flash(_("Đã từ chối luồng %(name)s.", name=stream.name), "success")
    return redirect(url_for("streams.show", stream_id=stream_id))


@bp.post("/streams/<int:stream_id>/retire")
@roles_required(*REVIEWERS)
def retire(stream_id: int):
    switched: list[int] = []

    def retire_it(session, stream, actor, _comment):
        switched.append(streams.retire_stream(session=session, stream=stream, actor=actor))

    stream = _review(stream_id, retire_it)
    if stream is not None:
        flash(
            _(
                "Đã ngừng sử dụng luồng %(name)s; %(n)d lịch tiếp sóng đã tắt.",
                name=stream.name,
                n=switched[0] if switched else 0,
            ),
            "success",
        )
    return redirect(url_for("streams.show", stream_id=stream_id))
