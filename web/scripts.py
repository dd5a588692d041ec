"""The newsroom: write, hear, submit and approve scripts."""

from __future__ import annotations

import difflib
import json
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlmodel import col, func, or_, select
from wtforms import (
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange

from broadcaster.audio.profiles import ProfileError, deployment_profiles
from broadcaster.audio.render import (
    RenderError,
    RenderRequest,
    estimate_duration,
    render,
    store_for,
    version_settings,
)
from broadcaster.core.config import local_today
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    Area,
    AudioFile,
    Campaign,
    Script,
    ScriptVersion,
    Station,
    User,
    VersionStatus,
)
from broadcaster.newsroom.templating import VARIABLES, TemplateError, context_for, expand
from broadcaster.newsroom.workflow import (
    WRITERS,
    WorkflowError,
    add_version,
    approve,
    can_review,
    create_script,
    latest_approved,
    latest_version,
    return_version,
    submit,
    withdraw,
)
from broadcaster.speech import engine_for, lexicon
from broadcaster.speech.normalize import normalize
from web.audiofiles import audio_response
from web.auth import acting_user, roles_required
from web.db import get_session
from web.messages import message_for

bp = Blueprint("scripts", __name__)
MAX_BODY = 10_000
STATUS_LABELS = {
    VersionStatus.DRAFT: _l("Bản nháp"),
    VersionStatus.SUBMITTED: _l("Chờ duyệt"),
    VersionStatus.APPROVED: _l("Đã duyệt"),
    VersionStatus.RETURNED: _l("Trả lại"),
}
VOICE_LABELS = {
    "north": _l("Giọng miền Bắc"),
    "central": _l("Giọng miền Trung (Huế)"),
    "south": _l("Giọng miền Nam"),
}
ENGINE_LABELS = {
    "": _l("Mặc định của hệ thống"),
    "auto": _l("Google, dự phòng espeak-ng"),
    "gtts": _l("Google (cần Internet)"),
    "espeak": _l("espeak-ng (ngoại tuyến)"),
    "piper": _l("Piper (giọng cài trên máy)"),
}


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, str(label)) for value, label in pairs]


class ScriptForm(FlaskForm):
    title = StringField(_l("Tiêu đề"), validators=[DataRequired(), Length(max=200)])
    campaign = SelectField(_l("Chiến dịch"), coerce=str)
    tags = StringField(_l("Thẻ (cách nhau bằng dấu phẩy)"), validators=[Length(max=400)])
    body = TextAreaField(_l("Nội dung"), validators=[DataRequired(), Length(max=MAX_BODY)])
    voice = SelectField(_l("Giọng đọc"), choices=lambda: _choices(VOICE_LABELS.items()))
    speed = DecimalField(
        _l("Tốc độ đọc"), places=2, default=1.0, validators=[NumberRange(0.5, 2.0)]
    )
    repeat = IntegerField(_l("Số lần đọc"), default=2, validators=[NumberRange(1, 5)])
    engine = SelectField(_l("Bộ đọc"), choices=lambda: _choices(ENGINE_LABELS.items()))
    profile = SelectField(_l("Cấu hình âm thanh"), coerce=str)


class ActionForm(FlaskForm):
    """CSRF only: submit, withdraw, approve."""


class ReturnForm(FlaskForm):
    comment = TextAreaField(_l("Nhận xét"), validators=[DataRequired(), Length(max=1000)])


def _settings():
    return current_app.config["SETTINGS"]


def _profile_choices() -> list[SelectChoice]:
    try:
        profiles = deployment_profiles(_settings())
    except ProfileError:
        current_app.logger.exception("profiles")
        profiles = {}
    return _choices(
        [("", _("Mặc định của hệ thống"))] + [(n, p.label) for n, p in profiles.items()]
    )


def _script_form(**kwargs) -> ScriptForm:
    form = ScriptForm(**kwargs)
    campaigns = get_session().exec(select(Campaign).order_by(Campaign.name)).all()
    form.campaign.choices = _choices(
        [("", _("Không thuộc chiến dịch"))] + [(c.slug, c.name) for c in campaigns]
    )
    form.profile.choices = _profile_choices()
    return form


def _get_script(script_id: int) -> Script:
    script = get_session().get(Script, script_id)
    if script is None:
        abort(404)
    return script


def _get_version(script: Script, number: int) -> ScriptVersion:
    version = (
        get_session()
        .exec(
            select(ScriptVersion).where(
                ScriptVersion.script_id == script.id, ScriptVersion.number == number
            )
        )
        .first()
    )
    if version is None:
        abort(404)
    return version


def _users_by_id() -> dict[int, User]:
    return {u.id: u for u in get_session().exec(select(User))}


@bp.get("/scripts")
@roles_required(*WRITERS)
def index():
    session = get_session()
    latest = (
        select(ScriptVersion.script_id, func.max(ScriptVersion.number).label("number"))
        .group_by(ScriptVersion.script_id)
        .subquery()
    )
    statement = (
        select(Script, ScriptVersion)
        .join(latest, latest.c.script_id == Script.id)
        .join(
            ScriptVersion,
            (ScriptVersion.script_id == Script.id) & (ScriptVersion.number == latest.c.number),
        )
    )
    args = request.args
    if query := args.get("q", "").strip():
        pattern = f"%{query}%"
        statement = statement.where(
            or_(
                col(Script.title).ilike(pattern),
                col(ScriptVersion.body).ilike(pattern),
                col(Script.slug).ilike(pattern),
            )
        )
    if (status := args.get("status", "")) in STATUS_LABELS:
        statement = statement.where(ScriptVersion.status == status)
    campaigns = session.exec(select(Campaign).order_by(Campaign.name)).all()
    if campaign_slug := args.get("campaign", ""):
        campaign = next((c for c in campaigns if c.slug == campaign_slug), None)
        statement = statement.where(Script.campaign_id == (campaign.id if campaign else -1))
    if tag := args.get("tag", "").strip():
        statement = statement.where(col(Script.tags).ilike(f"%{tag}%"))
    if (author := args.get("author", "")).isdigit():
        statement = statement.where(Script.created_by_id == int(author))
    if (days := args.get("updated", "")).isdigit():
        statement = statement.where(Script.updated_at >= utcnow() - timedelta(days=int(days)))
    rows = session.exec(statement.order_by(Script.updated_at.desc())).all()
    on_air = {
        script_id: number
        for script_id, number in session.exec(
            select(ScriptVersion.script_id, func.max(ScriptVersion.number))
            .where(ScriptVersion.status == VersionStatus.APPROVED)
            .group_by(ScriptVersion.script_id)
        )
    }
    return render_template(
        "scripts/index.html",
        rows=rows,
        on_air=on_air,
        campaigns=campaigns,
        campaign_names={c.id: c.name for c in campaigns},
        users=_users_by_id(),
        status_labels=STATUS_LABELS,
        args=args,
    )


def _form_values(form: ScriptForm) -> dict:
    return dict(
        body=form.body.data or "",
        voice=form.voice.data,
        speed=float(form.speed.data or 1),
        repeat=int(form.repeat.data or 2),
        engine=form.engine.data or "",
        profile=form.profile.data or "",
    )


def _campaign_for(slug: str) -> Campaign | None:
    if not slug:
        return None
    return get_session().exec(select(Campaign).where(Campaign.slug == slug)).first()


@bp.route("/scripts/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def new():
    form = _script_form()
    if request.method == "GET":
        form.campaign.data = request.args.get("campaign", "")
        form.voice.data = "central"
    if form.validate_on_submit():
        session = get_session()
        try:
            script, _version = create_script(
                session=session,
                title=form.title.data,
                actor=acting_user(),
                campaign=_campaign_for(form.campaign.data),
                tags=(form.tags.data or "").split(","),
                **_form_values(form),
            )
        except (WorkflowError, TemplateError) as exc:
            session.rollback()
            flash(message_for(exc), "error")
        else:
            session.commit()
            flash(_("Đã lưu bản nháp."), "success")
            return redirect(url_for("scripts.show", script_id=script.id))
    return _editor(form, script=None, status=400 if request.method == "POST" else 200)


def _editor(form: ScriptForm, *, script: Script | None, status: int = 200):
    session = get_session()
    stations = session.exec(select(Station).order_by(Station.code)).all()
    return (
        render_template(
            "scripts/edit.html",
            form=form,
            script=script,
            variables=VARIABLES.values(),
            stations=stations,
        ),
        status,
    )


@bp.route("/scripts/<int:script_id>/edit", methods=["GET", "POST"])
@roles_required(*WRITERS)
def edit(script_id: int):
    session = get_session()
    script = _get_script(script_id)
    current = latest_version(session, script)
    form = _script_form()
    if request.method == "GET":
        campaign = session.get(Campaign, script.campaign_id) if script.campaign_id else None
        form.title.data = script.title
        form.campaign.data = campaign.slug if campaign else ""
        form.tags.data = script.tags.replace(",", ", ")
        if current:
            form.body.data = current.body
            form.voice.data = current.voice
            form.speed.data = current.speed
            form.repeat.data = current.repeat
            form.engine.data = current.engine
            form.profile.data = current.profile
    if form.validate_on_submit():
        try:
            values = _form_values(form)
            unchanged = current is not None and all(
                getattr(current, key) == value for key, value in values.items()
            )
            campaign = _campaign_for(form.campaign.data)
            script.title = " ".join(form.title.data.split())
            script.campaign_id = campaign.id if campaign else None
            script.tags = ",".join(
                t.strip() for t in (form.tags.data or "").split(",") if t.strip()
            )
            script.updated_at = utcnow()
            session.add(script)
            if not unchanged:
                add_version(session=session, script=script, actor=acting_user(), **values)
        except (WorkflowError, TemplateError) as exc:
            session.rollback()
            flash(message_for(exc), "error")
        else:
            session.commit()
            if unchanged:
                flash(_("Đã lưu tiêu đề và thẻ; nội dung không đổi."), "success")
            else:
                flash(_("Đã lưu phiên bản mới (bản nháp)."), "success")
            return redirect(url_for("scripts.show", script_id=script.id))
    return _editor(form, script=script, status=400 if request.method == "POST" else 200)


@bp.get("/scripts/<int:script_id>")
@roles_required(*WRITERS)
def show(script_id: int):
    session = get_session()
    script = _get_script(script_id)
    versions = session.exec(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script.id)
        .order_by(ScriptVersion.number.desc())
    ).all()
    current = versions[0] if versions else None
    actor = acting_user()
    return render_template(
        "scripts/show.html",
        script=script,
        versions=versions,
        current=current,
        on_air=latest_approved(session, script),
        campaign=session.get(Campaign, script.campaign_id) if script.campaign_id else None,
        users=_users_by_id(),
        status_labels=STATUS_LABELS,
        voice_labels=VOICE_LABELS,
        engine_labels=ENGINE_LABELS,
        may_review=bool(
            current
            and can_review(actor, current, allow_self_approval=_settings().allow_self_approval)
        ),
        action_form=ActionForm(),
        return_form=ReturnForm(),
        spoken=normalize(current.body, lexicon=lexicon.as_mapping(session)) if current else "",
        stations=session.exec(select(Station).order_by(Station.code)).all(),
    )


ACTIONS = {"submit", "withdraw", "approve", "return"}


@bp.post("/scripts/<int:script_id>/versions/<int:number>/<action>")
@roles_required(*WRITERS)
def act(script_id: int, number: int, action: str):
    if action not in ACTIONS:
        abort(404)
    session = get_session()
    script = _get_script(script_id)
    version = _get_version(script, number)
    actor = acting_user()
    form = ReturnForm() if action == "return" else ActionForm()
    if not form.validate_on_submit():
        if action == "return":
            flash(_("Vui lòng ghi nhận xét để người viết biết cần sửa gì."), "error")
            return redirect(url_for("scripts.show", script_id=script.id))
        abort(400)
    allow_self = _settings().allow_self_approval
    try:
        if action == "submit":
            submit(session=session, version=version, actor=actor)
            message = _("Đã gửi phiên bản %(n)d để duyệt.", n=number)
        elif action == "withdraw":
            withdraw(session=session, version=version, actor=actor)
            message = _("Đã rút lại phiên bản %(n)d về bản nháp.", n=number)
        elif action == "approve":
            approve(session=session, version=version, actor=actor, allow_self_approval=allow_self)
            message = _("Đã duyệt phiên bản %(n)d: bản này được phép phát.", n=number)
        else:
            return_version(
                session=session,
                version=version,
                actor=actor,
                comment=form.comment.data,
                allow_self_approval=allow_self,
            )
            message = _("Đã trả lại phiên bản %(n)d kèm nhận xét.", n=number)
    except WorkflowError as exc:
        session.rollback()
        flash(message_for(exc), "error")
        return redirect(url_for("scripts.show", script_id=script.id)), 303
    session.commit()
    flash(message, "success")
    return redirect(url_for("scripts.show", script_id=script.id))


def word_diff(old: str, new: str) -> Markup:
    """A readable diff: removed words struck through, added words highlighted, escaped."""
    old_words, new_words = old.split(" "), new.split(" ")
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(str(escape(" ".join(old_words[a1:a2]))))
            continue
        if a2 > a1:
            parts.append(f"<del>{escape(' '.join(old_words[a1:a2]))}</del>")
        if b2 > b1:
            parts.append(f"<ins>{escape(' '.join(new_words[b1:b2]))}</ins>")
    return Markup(" ".join(parts).replace("\n", "<br>"))


@bp.get("/scripts/<int:script_id>/diff")
@roles_required(*WRITERS)
def diff(script_id: int):
    script = _get_script(script_id)
    versions = (
        get_session()
        .exec(
            select(ScriptVersion)
            .where(ScriptVersion.script_id == script.id)
            .order_by(ScriptVersion.number)
        )
        .all()
    )
    numbers = [v.number for v in versions]
    try:
        a = int(request.args.get("a", numbers[-2] if len(numbers) > 1 else numbers[0]))
        b = int(request.args.get("b", numbers[-1]))
    except (ValueError, IndexError):
        abort(400)
    older, newer = _get_version(script, min(a, b)), _get_version(script, max(a, b))
    return render_template(
        "scripts/diff.html",
        script=script,
        older=older,
        newer=newer,
        numbers=numbers,
        body_diff=word_diff(older.body, newer.body),
        users=_users_by_id(),
        status_labels=STATUS_LABELS,
    )


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


@bp.post("/scripts/spoken")
@roles_required(*WRITERS)
def spoken():
    """The spoken form and on-air length of the text being typed."""
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
    spoken_text = normalize(text, lexicon=lexicon.as_mapping(session))
    try:
        profile, _engine = version_settings(_settings(), profile_name=data.get("profile") or None)
    except ProfileError:
        return _json_error(_("Cấu hình âm thanh không tồn tại."))
    return jsonify(
        spoken=spoken_text,
        estimate_s=estimate_duration(spoken_text, speed=speed, repeat=repeat, profile=profile),
        error=error,
    )


@bp.post("/scripts/preview")
@roles_required(*WRITERS)
def preview():
    """Render the text in the editor (drafts included) so staff can hear it."""
    data = _payload()
    body = str(data.get("body", "")).strip()
    if not body or len(body) > MAX_BODY:
        return _json_error(_("Nội dung đang trống hoặc quá dài."))
    voice = data.get("voice", "central")
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


@bp.get("/audio/<key>.mp3")
@roles_required(*WRITERS)
def audio(key: str):
    """Rendered audio for staff previews; stations get audio through their own API."""
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        abort(404)
    record = get_session().exec(select(AudioFile).where(AudioFile.key == key)).first()
    if record is None:
        abort(404)
    return audio_response(record, download_name=f"{key}.mp3") or abort(404)


def commune_name(station: Station) -> str:
    area = get_session().get(Area, station.area_id)
    return area.name if area else station.code


bp.add_app_template_global(commune_name)
