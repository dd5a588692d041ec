"""A due relay occurrence as a cue for local playout: its stream, checked approved at the
moment it goes on air (streams.relay_of), and its fallback bulletin's audio (rendered now
if it was not rendered ahead).

Kept beside localplayout so the dispatch loop reads the same for files and relays.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from broadcaster.core.config import Settings
from broadcaster.core.events import EventKind
from broadcaster.core.models import Occurrence, ScriptVersion, VersionStatus
from broadcaster.onair.playlog import Outcome, apply_outcome
from broadcaster.onair.playout import Cue, RelaySlot
from broadcaster.onair.streams import relay_of

log = logging.getLogger(__name__)

NOT_APPROVED = "not relayed: the stream is not approved"


def relay_cue(
    session: Session, settings: Settings, occurrence: Occurrence, *, now: datetime, order: int = 0
) -> Cue | None:
    """The cue for a claimed relay occurrence, or None after logging why it cannot play.

    The stream is read again here: one retired or sent back to review since the plan was
    made never reaches the loudspeakers. A fallback that cannot be had is silence, logged
    by the relay when the stream drops, not a reason to miss the relay.
    """
    from broadcaster.audio.objectstore import RemoteError
    from broadcaster.audio.render import RenderError, store_for
    from broadcaster.onair.prerender import render_occurrence

    relay = relay_of(session, occurrence)
    if relay is None:
        apply_outcome(
            session, occurrence, Outcome(EventKind.SKIPPED, NOT_APPROVED), at=now, actor="scheduler"
        )
        return None
    audio, fallback = relay.fallback, None
    try:
        if audio is None and _approved_unrendered(session, occurrence):
            audio = render_occurrence(session, settings, occurrence)
        if audio is not None:
            store = store_for(settings)
            fallback = store.local(audio) or store.absolute(audio.path)
            occurrence.audio_id = audio.id
            session.add(occurrence)
    except (RenderError, RemoteError) as exc:
        log.error("relay %s: no fallback audio (%s); silence fills a drop", occurrence.id, exc)
    assert occurrence.id is not None
    return Cue(
        at=occurrence.at,
        rank=-occurrence.priority,
        order=order,
        schedule_id=occurrence.schedule_id,
        occurrence_id=occurrence.id,
        path=fallback or settings.audio_dir,
        duration_s=relay.duration_s,
        relay=RelaySlot(url=relay.url, name=relay.name, fallback=fallback, kind=relay.kind),
    )


def _approved_unrendered(session: Session, occurrence: Occurrence) -> bool:
    """A fallback bulletin that was not rendered ahead, and may still go on air."""
    if occurrence.audio_id is not None or occurrence.version_id is None:
        return False
    version = session.get(ScriptVersion, occurrence.version_id)
    return version is not None and version.status == VersionStatus.APPROVED
