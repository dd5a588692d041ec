"""What can happen to a play: the one vocabulary of play events.

Stored in `playevent.kind`, sent by agents, shown in the broadcast log. A StrEnum, so a
kind is its own stored string and the agent (which imports no database code) can use it.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    RENDERED = "rendered"
    RENDER_FAILED = "render_failed"
    DISPATCHED = "dispatched"
    DOWNLOADED = "downloaded"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    MISSED = "missed"
    RELEASED = "released"
    CONFIRMED = "confirmed"


# What an agent may report about its own plays.
AGENT_EVENT_KINDS = (
    EventKind.STARTED,
    EventKind.FINISHED,
    EventKind.FAILED,
    EventKind.SKIPPED,
    EventKind.INTERRUPTED,
)
