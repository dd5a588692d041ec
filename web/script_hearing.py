"""Hearing a script while writing it: the JSON endpoints static/newsroom.js calls.

It owns the spoken form and length estimate (`spoken`), rendering a draft to listen to
(`preview`) and serving staff their rendered audio (`audio`). The routes belong to the
scripts blueprint (registered in web/scripts.py), so their endpoint names stay scripts.*.
"""

from __future__ import annotations

import json

from flask import (
    abort,
    current_app,
    jsonify,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlmodel import select

from broadcaster.audio.profiles import ProfileError
from broadcaster.audio.render import (
    RenderError,
    RenderRequest,
    estimate_duration,
    render,
    store_for,
    version_settings,
)
from broadcaster.core.config import local_today
from broadcaster.core.models import (
    AudioFile,
    Station,
)
from broadcaster.core.voices import DEFAULT_VOICE
from broadcaster.newsroom.templating import TemplateError, context_for, expand
from broadcaster.newsroom.workflow import (
    WRITERS,
)
from broadcaster.speech import lexicon
from broadcaster.speech.engines import engine_for
from broadcaster.speech.normalize import normalize_report
from web.audiofiles import audio_response
from web.auth import roles_required
from web.db import get_session
from web.messages import message_for
from web.script_forms import ENGINE_LABELS, MAX_BODY, VOICE_LABELS


def _settings():
    return current_app.config["SETTINGS"]


# --- hearing it: JSON endpoints used by static/newsroom.js ------------------------------


def _json_error(message: str, status: int = 400):
    return jsonify(error=message), status


def _payload() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


def _station_from(data: dict) -> Station | None:
    station_id = data.get("station_id")
    if station_id in (None, ""):
        return None
    try:
        return get_session().get(Station, int(station_id))
    except (TypeError, ValueError):
        return None


@roles_required(*WRITERS)
def spoken():
    """The spoken form and on-air length of the text being typed, and what it leaves out."""
    data = _payload()
    body = str(data.get("body", ""))[:MAX_BODY]
    session = get_session()
    try:
        speed = min(2.0, max(0.5, float(data.get("speed") or 1)))
        repeat = min(5, max(1, int(data.get("repeat") or 2)))
    except (TypeError, ValueError):
        return _json_error(_("Tốc độ hoặc số lần đọc không hợp lệ."))
    station = _station_from(data)
    try:
        text = expand(body, context_for(session, station, local_today(_settings())))
        error = None
    except TemplateError as exc:
        text, error = body, message_for(exc)
    report = normalize_report(text, lexicon=lexicon.as_mapping(session))
    spoken_text = report.spoken
    try:
        profile, _engine = version_settings(_settings(), profile_name=data.get("profile") or None)
    except ProfileError:
        return _json_error(_("Cấu hình âm thanh không tồn tại."))
    return jsonify(
        spoken=spoken_text,
        estimate_s=estimate_duration(spoken_text, speed=speed, repeat=repeat, profile=profile),
        error=error,
        # Left out of the reading: offsets are into the text with its variables filled.
        unreadable=[{"token": u.label, "start": u.start, "end": u.end} for u in report.unreadable],
        marked=[[piece, unreadable] for piece, unreadable in report.marked],
    )


@roles_required(*WRITERS)
def preview():
    """Render the text in the editor (drafts included) so staff can hear it."""
    data = _payload()
    body = str(data.get("body", "")).strip()
    if not body or len(body) > MAX_BODY:
        return _json_error(_("Nội dung đang trống hoặc quá dài."))
    voice = data.get("voice", DEFAULT_VOICE)
    if voice not in VOICE_LABELS:
        return _json_error(_("Giọng đọc không hợp lệ."))
    try:
        speed = min(2.0, max(0.5, float(data.get("speed") or 1)))
        repeat = min(5, max(1, int(data.get("repeat") or 2)))
        profile, engine_name = version_settings(
            _settings(),
            profile_name=data.get("profile") or None,
            engine_name=data.get("engine") or None,
        )
    except (TypeError, ValueError, ProfileError):
        return _json_error(_("Thiết lập giọng đọc không hợp lệ."))
    if engine_name not in ENGINE_LABELS:
        return _json_error(_("Bộ đọc không hợp lệ."))
    session = get_session()
    station = _station_from(data)
    try:
        text = expand(body, context_for(session, station, local_today(_settings())))
    except TemplateError as exc:
        return _json_error(message_for(exc))
    request_ = RenderRequest(
        text=text,
        voice=voice,
        speed=speed,
        repeat=repeat,
        profile=profile,
        engine_name=engine_name,
    )
    try:
        result = render(
            session=session,
            store=store_for(_settings()),
            request=request_,
            engine=engine_for(_settings(), engine_name),
            lexicon=lexicon.as_mapping(session),
        )
    except RenderError:
        session.rollback()
        current_app.logger.exception("preview render failed")
        return _json_error(_("Không tạo được âm thanh lúc này. Vui lòng thử lại."), 503)
    session.commit()
    audio = result.audio
    return jsonify(
        audio_url=url_for("scripts.audio", key=audio.key),
        duration_s=audio.duration_s,
        lufs=audio.lufs,
        true_peak_db=audio.true_peak_db,
        engine=audio.engine,
        fallback=audio.fallback,
        spoken=audio.spoken_text,
        peaks=json.loads(audio.peaks or "[]"),
        cached=result.cached,
    )


@roles_required(*WRITERS)
def audio(key: str):
    """Rendered audio for staff previews; stations get audio through their own API."""
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        abort(404)
    record = get_session().exec(select(AudioFile).where(AudioFile.key == key)).first()
    if record is None:
        abort(404)
    return audio_response(record, download_name=f"{key}.mp3") or abort(404)
