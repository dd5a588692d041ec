"""The newsroom: write, hear, submit and approve scripts."""

from __future__ import annotations

import difflib
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlmodel import col, func, or_, select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import (
    Area,
    Campaign,
    Script,
    ScriptVersion,
    Station,
    User,
    VersionStatus,
)
from broadcaster.core.voices import DEFAULT_VOICE
from broadcaster.newsroom.templating import VARIABLES, TemplateError
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
from broadcaster.speech import lexicon
from broadcaster.speech.normalize import normalize_report
from web import script_hearing, script_public
from web.auth import acting_user, roles_required
from web.db import get_session
from web.messages import message_for
from web.script_forms import (
    ENGINE_LABELS,
    STATUS_LABELS,
    VOICE_LABELS,
    ActionForm,
    PublicForm,
    ReturnForm,
    ScriptForm,
    script_form,
)

bp = Blueprint("scripts", __name__)
bp.add_url_rule("/scripts/spoken", view_func=script_hearing.spoken, methods=["POST"])
bp.add_url_rule("/scripts/preview", view_func=script_hearing.preview, methods=["POST"])
bp.add_url_rule("/audio/<key>.mp3", view_func=script_hearing.audio, methods=["GET"])
bp.add_url_rule(
    "/scripts/<int:script_id>/versions/<int:number>/public",
    endpoint="set_public",
    view_func=script_public.set_public_view,
    methods=["POST"],
)


def _settings():
    return current_app.config["SETTINGS"]


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
    form = script_form()
    if request.method == "GET":
        form.campaign.data = request.args.get("campaign", "")
        form.voice.data = DEFAULT_VOICE
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
    form = script_form()
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
        public_form=PublicForm(),
        return_form=ReturnForm(),
        spoken=normalize_report(current.body, lexicon=lexicon.for_version(session, current))
        if current
        else None,
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
    form = {"return": ReturnForm, "approve": PublicForm}.get(action, ActionForm)()
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
            approve(
                session=session,
                version=version,
                actor=actor,
                allow_self_approval=allow_self,
                public=bool(form.public.data),
            )
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


def commune_name(station: Station) -> str:
    area = get_session().get(Area, station.area_id)
    return area.name if area else station.code


bp.add_app_template_global(commune_name)
