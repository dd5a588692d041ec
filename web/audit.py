"""The audit log for admins: every change with its actor, time and before/after."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request
from sqlmodel import func, select

from broadcaster.core.models import AuditEntry, Role
from web.auth import roles_required
from web.db import get_session

bp = Blueprint("audit", __name__)
PAGE_SIZE = 50


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _changes(entry: AuditEntry) -> list[tuple[str, object, object]]:
    """(field, before, after) for every field that differs, for a readable table."""
    before = json.loads(entry.before) if entry.before else {}
    after = json.loads(entry.after) if entry.after else {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("", before, after)]
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


@bp.get("/audit")
@roles_required(Role.ADMIN)
def index():
    session = get_session()
    zone = ZoneInfo(current_app.config["SETTINGS"].timezone)
    statement = select(AuditEntry)
    entity = request.args.get("entity", "")
    if entity:
        statement = statement.where(AuditEntry.entity_type == entity)
    actor = request.args.get("actor", "").strip()
    if actor:
        statement = statement.where(AuditEntry.actor_label == actor)
    if start := _day(request.args.get("from", "")):
        statement = statement.where(AuditEntry.at >= datetime.combine(start, time(), zone))
    if end := _day(request.args.get("to", "")):
        until = datetime.combine(end + timedelta(days=1), time(), zone)
        statement = statement.where(AuditEntry.at < until)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    entries = session.exec(
        statement.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    entities = session.exec(select(AuditEntry.entity_type).distinct()).all()
    return render_template(
        "audit/index.html",
        entries=[(e, _changes(e)) for e in entries],
        entities=sorted(entities),
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        args=request.args,
    )


@bp.app_template_filter("reject_key")
def reject_key(mapping: dict, key: str) -> dict:
    """Query arguments without `key`, for pager links that keep the filters."""
    return {k: v for k, v in mapping.items() if k != key}
