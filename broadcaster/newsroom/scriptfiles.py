"""Broadcast scripts shipped as files (Markdown with YAML front matter), imported by slug."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from sqlmodel import Session, select

from broadcaster.core import audit
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import Campaign, Script, User
from broadcaster.core.voices import DEFAULT_VOICE
from broadcaster.newsroom.workflow import WorkflowError, add_version, latest_version

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,99}$")
FRONT_MATTER_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)


class ScriptFileError(BroadcasterError):
    """A script file that cannot be imported; the message names the file."""


@dataclass
class ImportReport:
    campaigns: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _read_front_matter(path: Path) -> tuple[dict, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptFileError(f"{path}: cannot read as UTF-8 text: {exc}") from exc
    match = FRONT_MATTER_RE.match(text)
    if not match:
        raise ScriptFileError(f"{path}: must start with a '---' YAML front matter block")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ScriptFileError(f"{path}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ScriptFileError(f"{path}: front matter must be a mapping of keys to values")
    return meta, match.group(2).strip()


def _import_campaign(session: Session, path: Path, actor: User | None) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScriptFileError(f"{path}: cannot read campaign: {exc}") from exc
    if not isinstance(data, dict):
        raise ScriptFileError(f"{path}: a campaign file must be a mapping of keys to values")
    slug, name = data.get("slug"), data.get("name")
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or not name:
        raise ScriptFileError(f"{path}: a campaign needs a slug (a-z, 0-9, '-') and a name")
    for key in ("starts_on", "ends_on"):
        if data.get(key) is not None and not isinstance(data[key], date):
            raise ScriptFileError(f"{path}: {key} must be a date like 2020-08-19")
    campaign = session.exec(select(Campaign).where(Campaign.slug == slug)).first()
    before = campaign.model_dump() if campaign else None
    campaign = campaign or Campaign(slug=slug, name=name)
    campaign.name = str(name)
    campaign.description = str(data.get("description") or "")
    campaign.starts_on = data.get("starts_on")
    campaign.ends_on = data.get("ends_on")
    session.add(campaign)
    session.flush()
    after = campaign.model_dump()
    if before != after:
        audit.record(
            session,
            actor=actor,
            action="import",
            entity_type="campaign",
            entity_id=slug,
            before=before,
            after=after,
        )


def import_scripts(session: Session, folder: Path, *, actor: User | None = None) -> ImportReport:
    """Import every campaign.yml and *.md under `folder`; all or nothing (the caller commits)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScriptFileError(f"{folder}: not a folder")
    report = ImportReport()
    for path in sorted(folder.rglob("campaign.yml")):
        _import_campaign(session, path, actor)
        report.campaigns += 1
    seen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        meta, body = _read_front_matter(path)
        slug, title = meta.get("slug"), meta.get("title")
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise ScriptFileError(f"{path}: slug is missing or not a-z, 0-9 and '-'")
        if slug in seen:
            raise ScriptFileError(f"{path}: slug {slug!r} is also used by {seen[slug]}")
        seen[slug] = path
        if not isinstance(title, str) or not title.strip():
            raise ScriptFileError(f"{path}: title is missing")
        campaign = None
        if meta.get("campaign"):
            campaign = session.exec(
                select(Campaign).where(Campaign.slug == str(meta["campaign"]))
            ).first()
            if campaign is None:
                raise ScriptFileError(f"{path}: unknown campaign {meta['campaign']!r}")
        tags = meta.get("tags") or []
        if not isinstance(tags, list):
            raise ScriptFileError(f"{path}: tags must be a list")
        found = session.exec(select(Script).where(Script.slug == slug)).first()
        is_new = found is None
        script = found or Script(slug=slug, title="", created_by_id=actor.id if actor else None)
        script.title = title.strip()
        script.campaign_id = campaign.id if campaign else None
        script.tags = ",".join(str(t) for t in tags)
        session.add(script)
        session.flush()
        voice = str(meta.get("voice", DEFAULT_VOICE))
        repeat = meta.get("repeat", 2)
        speed = meta.get("speed", 1.0)
        if not isinstance(repeat, int) or not isinstance(speed, int | float):
            raise ScriptFileError(f"{path}: repeat must be a whole number and speed a number")
        current = latest_version(session, script)
        if current and (current.body, current.voice, current.repeat, current.speed) == (
            body,
            voice,
            repeat,
            float(speed),
        ):
            report.unchanged.append(slug)
            continue
        try:
            add_version(
                session=session,
                script=script,
                body=body,
                voice=voice,
                repeat=repeat,
                speed=float(speed),
                actor=actor,
            )
        except WorkflowError as exc:
            raise ScriptFileError(f"{path}: {exc}") from exc
        (report.created if is_new else report.updated).append(slug)
    return report
