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
    # A relay's life between its "started" and its "finished"/"failed": logged, and the
    # occurrence stays playing (onair.playlog). Each fits playevent.kind (16 characters).
    RELAY_CONNECTED = "relay_connected"
    RELAY_DROPPED = "relay_dropped"
    RELAY_FALLBACK = "relay_fallback"
    RELAY_RESTORED = "relay_restored"
    RELAY_PAUSED = "relay_paused"
    RELAY_RESUMED = "relay_resumed"


RELAY_KINDS = (
    EventKind.RELAY_CONNECTED,
    EventKind.RELAY_DROPPED,
    EventKind.RELAY_FALLBACK,
    EventKind.RELAY_RESTORED,
    EventKind.RELAY_PAUSED,
    EventKind.RELAY_RESUMED,
)
# A play is on air after any of these: a crash now means it was cut short.
ON_AIR_KINDS = (EventKind.STARTED, *RELAY_KINDS)


# What an agent may report about its own plays.
AGENT_EVENT_KINDS = (
    EventKind.STARTED,
    EventKind.FINISHED,
    EventKind.FAILED,
    EventKind.SKIPPED,
    EventKind.INTERRUPTED,
    *RELAY_KINDS,
)
