"""Scripts and their versions. Versions are immutable; a change is a new draft version."""

from __future__ import annotations

from sqlmodel import Session, func, select

from broadcaster import audit
from broadcaster.dbtypes import utcnow
from broadcaster.models import Script, ScriptVersion, User, VersionStatus
from broadcaster.templating import TemplateError, check_template

VOICES = ("north", "central", "south")


class WorkflowError(ValueError):
    """A script change that is not allowed; the message is safe to show."""


def latest_version(session: Session, script: Script) -> ScriptVersion | None:
    return session.exec(
        select(ScriptVersion)
        .where(ScriptVersion.script_id == script.id)
        .order_by(ScriptVersion.number.desc())
    ).first()


def add_version(
    *,
    session: Session,
    script: Script,
    body: str,
    voice: str,
    speed: float = 1.0,
    repeat: int = 2,
    actor: User | None = None,
) -> ScriptVersion:
    """Add a new draft version of `script`."""
    body = body.strip()
    if not body:
        raise WorkflowError("the script text is empty")
    try:
        check_template(body)
    except TemplateError as exc:
        raise WorkflowError(str(exc)) from exc
    if voice not in VOICES:
        raise WorkflowError(f"unknown voice {voice!r}; choose north, central or south")
    if not 1 <= repeat <= 5:
        raise WorkflowError("repeat must be between 1 and 5")
    if not 0.5 <= speed <= 2.0:
        raise WorkflowError("speed must be between 0.5 and 2.0")
    last_number = session.exec(
        select(func.max(ScriptVersion.number)).where(ScriptVersion.script_id == script.id)
    ).one()
    version = ScriptVersion(
        script_id=script.id,
        number=(last_number or 0) + 1,
        body=body,
        voice=voice,
        speed=speed,
        repeat=repeat,
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
