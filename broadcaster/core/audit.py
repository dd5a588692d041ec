"""The audit log: every change with its actor and the state before and after."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from broadcaster.core.models import AuditEntry, User


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: object = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Add an entry to the caller's transaction: it commits or rolls back with the change."""
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.username if actor else "system"),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=json.dumps(before, ensure_ascii=False, default=str) if before is not None else None,
        after=json.dumps(after, ensure_ascii=False, default=str) if after is not None else None,
    )
    session.add(entry)
    return entry
