"""The pronunciation lexicon: staff add, change, delete and hear readings."""

from __future__ import annotations

import io

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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import col, or_, select
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from broadcaster.core.models import LexiconEntry, Role
from broadcaster.core.voices import DEFAULT_VOICE, VOICE_LABELS, VOICES
from broadcaster.speech import lexicon
from broadcaster.speech.engines import EngineError, engine_for
from broadcaster.speech.normalize import normalize
from web.auth import acting_user, roles_required
from web.db import get_session
from web.messages import message_for

bp = Blueprint("lexicon", __name__, url_prefix="/lexicon")
STAFF = (Role.ADMIN, Role.APPROVER, Role.EDITOR)
MAX_TRY_LENGTH = 300


class EntryForm(FlaskForm):
    entry_id = HiddenField()
    term = StringField(_l("Từ hoặc chữ viết tắt"), validators=[DataRequired(), Length(max=64)])
    reading = StringField(_l("Cách đọc"), validators=[DataRequired(), Length(max=200)])
    note = StringField(_l("Ghi chú"), validators=[Length(max=200)])


class DeleteForm(FlaskForm):
    pass


def _spoken(text: str) -> str:
    return normalize(text, lexicon=lexicon.as_mapping(get_session()))


@bp.get("")
@roles_required(*STAFF)
def index():
    session = get_session()
    query = request.args.get("q", "").strip()
    statement = select(LexiconEntry).order_by(LexiconEntry.term)
    if query:
        pattern = f"%{query}%"
        statement = statement.where(
            or_(col(LexiconEntry.term).ilike(pattern), col(LexiconEntry.reading).ilike(pattern))
        )
    trial = request.args.get("try", "").strip()[:MAX_TRY_LENGTH]
    editing = None
    edit_id = request.args.get("edit", "")
    if edit_id.isascii() and edit_id.isdigit() and len(edit_id) <= 9:
        editing = session.get(LexiconEntry, int(edit_id))
    form = EntryForm(obj=editing, entry_id=editing.id if editing else "")
    if editing is None and request.args.get("term"):
        # Arriving from the script editor with a misread word selected, or from a
        # shipped loanword to read differently (its reading offered to start from).
        form.term.data = request.args["term"][:64]
        if request.args.get("reading"):
            form.reading.data = request.args["reading"][:200]
    return render_template(
        "lexicon.html",
        entries=session.exec(statement).all(),
        query=query,
        form=form,
        editing=editing,
        delete_form=DeleteForm(),
        shipped=lexicon.shipped_entries(session),
        trial=trial,
        trial_spoken=_spoken(trial) if trial else "",
        voices=VOICES,
        voice_labels=VOICE_LABELS,
        voice=request.args.get("voice", DEFAULT_VOICE),
    )


@bp.post("")
@roles_required(*STAFF)
def save():
    form = EntryForm()
    session = get_session()
    if not form.validate_on_submit():
        flash(
            _("Vui lòng nhập cả từ và cách đọc (từ tối đa 64, cách đọc tối đa 200 ký tự)."), "error"
        )
        return redirect(url_for("lexicon.index"))
    raw_id = form.entry_id.data or ""
    entry_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9 else None
    try:
        entry = lexicon.save_entry(
            session=session,
            term=form.term.data,
            reading=form.reading.data,
            note=form.note.data or "",
            actor=acting_user(),
            entry_id=entry_id,
        )
    except lexicon.LexiconError as exc:
        session.rollback()
        flash(message_for(exc, term=form.term.data), "error")
        return redirect(url_for("lexicon.index"))
    session.commit()
    flash(_("Đã lưu cách đọc “%(term)s”.", term=entry.term), "success")
    return redirect(url_for("lexicon.index", **{"try": entry.term}))


@bp.post("/<int:entry_id>/delete")
@roles_required(*STAFF)
def delete(entry_id: int):
    if not DeleteForm().validate_on_submit():
        abort(400)
    session = get_session()
    try:
        lexicon.delete_entry(session=session, entry_id=entry_id, actor=acting_user())
    except lexicon.LexiconError:
        abort(404)
    session.commit()
    flash(_("Đã xoá mục khỏi từ điển."), "success")
    return redirect(url_for("lexicon.index"))


@bp.get("/audio")
@roles_required(*STAFF)
def audio():
    """The spoken form of `text`, synthesized now, as WAV for the page's audio player."""
    text = request.args.get("text", "").strip()
    voice = request.args.get("voice", DEFAULT_VOICE)
    if not text or len(text) > MAX_TRY_LENGTH or voice not in VOICES:
        abort(400)
    engine = engine_for(current_app.config["SETTINGS"])
    try:
        speech = engine.synthesize(_spoken(text), voice=voice, speed=1.0)
    except EngineError:
        current_app.logger.exception("lexicon trial synthesis failed")
        abort(503)
    mimetype = "audio/mpeg" if speech.format == "mp3" else "audio/wav"
    response = send_file(io.BytesIO(speech.data), mimetype=mimetype)
    response.headers["X-Speech-Engine"] = speech.engine
    response.cache_control.no_store = True
    return response
