"""Scripts, their versions and the approval (four-eyes) state machine.

Versions are immutable: a change is a new draft version. A version goes
draft → submitted → approved, or submitted → returned (with a comment); a submitted
version can be withdrawn back to draft. The newest approved version is the one on air,
so editing an approved script leaves it on air until the new version is approved.
"""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from broadcaster.core import audit
from broadcaster.core.db import saved_id
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Campaign, Role, Script, ScriptVersion, User, VersionStatus
from broadcaster.core.text import slugify
from broadcaster.core.voices import DEFAULT_VOICE, ENGINE_NAMES, VOICES
from broadcaster.newsroom.templating import TemplateError, check_template
from broadcaster.speech import lexicon

ENGINES = ("", *ENGINE_NAMES)  # "" is the deployment's default
WRITERS = (Role.ADMIN, Role.APPROVER, Role.EDITOR)
REVIEWERS = (Role.ADMIN, Role.APPROVER)


class WorkflowError(BroadcasterError):
    """A script change that is not allowed; the message is safe to show."""


def latest_version(session: Session, script: Script) -> ScriptVersion | None:
    return session.exec(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script.id)
        .order_by(col(ScriptVersion.number).desc())
    ).first()


def add_version(
    *,
    session: Session,
    script: Script,
    body: str,
    voice: str,
    speed: float = 1.0,
    repeat: int = 2,
    engine: str = "",
    profile: str = "",
    actor: User | None = None,
) -> ScriptVersion:
    """Add a new draft version of `script` (refused while a version awaits review)."""
    body = body.strip()
    if not body:
        raise WorkflowError("the script text is empty", code="empty_text")
    try:
        check_template(body)
    except TemplateError as exc:
        raise WorkflowError(str(exc), code=exc.code, **exc.details) from exc
    if voice not in VOICES:
        raise WorkflowError(
            f"unknown voice {voice!r}; choose north, central or south",
            code="unknown_voice",
            voice=voice,
        )
    if not 1 <= repeat <= 5:
        raise WorkflowError("repeat must be between 1 and 5", code="bad_version_repeat")
    if not 0.5 <= speed <= 2.0:
        raise WorkflowError("speed must be between 0.5 and 2.0", code="bad_speed")
    if engine not in ENGINES:
        raise WorkflowError(f"unknown engine {engine!r}", code="unknown_engine", engine=engine)
    current = latest_version(session, script) if script.id else None
    if current is not None and current.status == VersionStatus.SUBMITTED:
        raise WorkflowError(
            f"version {current.number} is waiting for approval; withdraw it before editing",
            code="awaiting_review",
            version=current.number,
        )
    last_number = session.exec(
        select(func.max(ScriptVersion.number)).where(ScriptVersion.script_id == script.id)
    ).one()
    version = ScriptVersion(
        script_id=saved_id(script),
        number=(last_number or 0) + 1,
        body=body,
        voice=voice,
        speed=speed,
        repeat=repeat,
        engine=engine,
        profile=profile,
        status=VersionStatus.DRAFT,
        created_by_id=actor.id if actor else None,
    )
    session.add(version)
    script.updated_at = utcnow()
    session.add(script)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="new_version",
        entity_type="script",
        entity_id=script.slug,
        after={"version": version.number, "body": body, "voice": voice, "repeat": repeat},
    )
    return version


def latest_approved(session: Session, script: Script) -> ScriptVersion | None:
    """The version on air: the newest approved one."""
    return session.exec(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script.id, ScriptVersion.status == VersionStatus.APPROVED)
        .order_by(col(ScriptVersion.number).desc())
    ).first()


def unique_slug(session: Session, title: str) -> str:
    base = (slugify(title) or "thong-bao")[:90]
    slug, n = base, 2
    while session.exec(select(Script.id).where(Script.slug == slug)).first() is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_script(
    *,
    session: Session,
    title: str,
    body: str,
    actor: User,
    campaign: Campaign | None = None,
    tags: list[str] | None = None,
    voice: str = DEFAULT_VOICE,
    speed: float = 1.0,
    repeat: int = 2,
    engine: str = "",
    profile: str = "",
) -> tuple[Script, ScriptVersion]:
    """A new script with its first draft version; nothing is saved if the text is invalid."""
    title = " ".join(title.split())
    if not title:
        raise WorkflowError("the title is empty", code="empty_title")
    if len(title) > 200:
        raise WorkflowError("the title is longer than 200 characters", code="title_too_long")
    script = Script(
        slug=unique_slug(session, title),
        title=title,
        campaign_id=campaign.id if campaign else None,
        tags=",".join(t.strip() for t in (tags or []) if t.strip())[:400],
        created_by_id=actor.id,
    )
    session.add(script)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="script",
        entity_id=script.slug,
        after={"title": title, "campaign": campaign.slug if campaign else None},
    )
    version = add_version(
        session=session,
        script=script,
        body=body,
        voice=voice,
        speed=speed,
        repeat=repeat,
        engine=engine,
        profile=profile,
        actor=actor,
    )
    return script, version


def _transition(
    session: Session,
    version: ScriptVersion,
    *,
    actor: User,
    action: str,
    allowed_from: tuple[str, ...],
    to: str,
) -> None:
    if version.status not in allowed_from:
        raise WorkflowError(
            f"version {version.number} is {version.status}; cannot {action} it",
            code="wrong_status",
            version=version.number,
            status=str(version.status),
            action=action,
        )
    latest = session.exec(
        select(func.max(ScriptVersion.number)).where(ScriptVersion.script_id == version.script_id)
    ).one()
    if action != "approve" and version.number != latest:
        raise WorkflowError(
            f"version {version.number} is not the latest version",
            code="not_latest",
            version=version.number,
        )
    before = version.status
    version.status = to
    session.add(version)
    script = session.get(Script, version.script_id)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="script",
        entity_id=script.slug if script else version.script_id,
        before={"version": version.number, "status": before},
        after={
            "version": version.number,
            "status": to,
            "comment": version.review_comment,
            **({"public": version.public} if to == VersionStatus.APPROVED else {}),
        },
    )


def submit(*, session: Session, version: ScriptVersion, actor: User) -> None:
    """Send a draft (or a returned version, unchanged) for approval."""
    if actor.role not in WRITERS:
        raise WorkflowError("only editors, approvers and admins submit scripts", code="not_allowed")
    version.submitted_by_id = actor.id
    version.submitted_at = utcnow()
    version.review_comment = ""
    _transition(
        session,
        version,
        actor=actor,
        action="submit",
        allowed_from=(VersionStatus.DRAFT, VersionStatus.RETURNED),
        to=VersionStatus.SUBMITTED,
    )


def withdraw(*, session: Session, version: ScriptVersion, actor: User) -> None:
    """Take a submitted version back to draft, e.g. to fix it before anyone reviews it."""
    if actor.id != version.submitted_by_id and actor.role != Role.ADMIN:
        raise WorkflowError(
            "only whoever submitted it (or an admin) can withdraw it", code="not_allowed"
        )
    _transition(
        session,
        version,
        actor=actor,
        action="withdraw",
        allowed_from=(VersionStatus.SUBMITTED,),
        to=VersionStatus.DRAFT,
    )


def can_review(actor: User, version: ScriptVersion, *, allow_self_approval: bool) -> bool:
    if actor.role not in REVIEWERS:
        return False
    if actor.id == version.created_by_id:
        return allow_self_approval and actor.role == Role.ADMIN
    return True


def approve(
    *,
    session: Session,
    version: ScriptVersion,
    actor: User,
    allow_self_approval: bool = False,
    public: bool = False,
) -> None:
    """Four eyes: the author of a version never approves it (unless an admin is allowed to).

    `public`: residents may hear it again on the public pages once it has aired; off
    unless the approver says so.
    """
    if actor.role not in REVIEWERS:
        raise WorkflowError("only approvers and admins approve scripts", code="not_allowed")
    if not can_review(actor, version, allow_self_approval=allow_self_approval):
        raise WorkflowError(
            "you wrote this version; another person must approve it", code="self_approval"
        )
    version.reviewed_by_id = actor.id
    version.reviewed_at = utcnow()
    version.lexicon = lexicon.frozen(session)
    version.public = public
    _transition(
        session,
        version,
        actor=actor,
        action="approve",
        allowed_from=(VersionStatus.SUBMITTED,),
        to=VersionStatus.APPROVED,
    )


def return_version(
    *,
    session: Session,
    version: ScriptVersion,
    actor: User,
    comment: str,
    allow_self_approval: bool = False,
) -> None:
    """Send a submitted version back to its author with a comment saying what to change."""
    comment = " ".join((comment or "").split())
    if not comment:
        raise WorkflowError(
            "say what should change: a comment is required to return a version",
            code="comment_required",
        )
    if not can_review(actor, version, allow_self_approval=allow_self_approval):
        raise WorkflowError(
            "only another approver or an admin can return this version", code="not_allowed"
        )
    version.reviewed_by_id = actor.id
    version.reviewed_at = utcnow()
    version.review_comment = comment[:1000]
    _transition(
        session,
        version,
        actor=actor,
        action="return",
        allowed_from=(VersionStatus.SUBMITTED,),
        to=VersionStatus.RETURNED,
    )


def set_public(*, session: Session, version: ScriptVersion, actor: User, public: bool) -> None:
    """An approver puts an approved version on the residents' pages, or takes it off."""
    if actor.role not in REVIEWERS:
        raise WorkflowError(
            "only approvers and admins decide what residents may hear again", code="not_allowed"
        )
    if version.status != VersionStatus.APPROVED:
        raise WorkflowError(
            f"version {version.number} is {version.status}; only an approved version can be public",
            code="not_approved",
            version=version.number,
        )
    if version.public == public:
        return
    version.public = public
    session.add(version)
    script = session.get(Script, version.script_id)
    audit.record(
        session,
        actor=actor,
        action="publish" if public else "unpublish",
        entity_type="script",
        entity_id=script.slug if script else version.script_id,
        before={"version": version.number, "public": not public},
        after={"version": version.number, "public": public},
    )
