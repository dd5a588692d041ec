"""Stream sources: radio streams stations may relay, registered by an admin, approved by another.

A stream goes draft → approved or rejected (with a comment); an approved one may be
retired, which takes it off the air everywhere. Registering it, or changing its address,
checks it by reading audio (audio.streamcheck) and refuses what cannot be relayed; a new
address sends it back to draft, so what is on air is always what an approver heard. The
four-eyes rule is the newsroom's (workflow.REVIEWERS): whoever registered the stream or
last changed its address never approves it. Every change is in the audit log.

A check reads seconds of live audio. Callers that hold a write transaction (a web request
on SQLite) check first, with `listen()`, and pass what was heard (`heard=`), so no other
writer waits on a radio stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from broadcaster.audio.streamcheck import StreamCheck, StreamCheckError, check_stream, valid_url
from broadcaster.core import audit
from broadcaster.core.db import saved_id
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    Role,
    Schedule,
    ScriptVersion,
    StreamSource,
    StreamStatus,
    User,
    VersionStatus,
)
from broadcaster.newsroom.workflow import REVIEWERS

MAX_NAME = 120


def listen(url: str) -> StreamCheck | StreamCheckError:
    """Check the stream at `url` (seconds of audio): what was heard, or why nothing was."""
    try:
        return check_stream(url)
    except StreamCheckError as exc:
        return exc


def _heard(url: str, heard: StreamCheck | StreamCheckError | None) -> StreamCheck:
    result = heard if heard is not None else listen(url)
    if isinstance(result, StreamCheckError):
        raise result
    return result


class StreamError(BroadcasterError):
    """A stream change that is not allowed; the message is safe to show."""


def _snapshot(stream: StreamSource) -> dict:
    return stream.model_dump(include={"name", "url", "kind", "status", "codec", "bitrate_kbps"})


def _clean_name(session: Session, name: str, stream: StreamSource | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise StreamError("the stream needs a name", code="stream_no_name")
    if len(name) > MAX_NAME:
        raise StreamError(f"the name is longer than {MAX_NAME} characters", code="stream_name_long")
    other = session.exec(select(StreamSource).where(StreamSource.name == name)).first()
    if other is not None and (stream is None or other.id != stream.id):
        raise StreamError(f"a stream named {name!r} exists already", code="stream_name_taken")
    return name


def _must_be_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise StreamError("only an admin registers and edits streams", code="not_allowed")


def _apply_check(stream: StreamSource, heard: StreamCheck, now: datetime) -> None:
    stream.kind = heard.kind
    stream.codec = heard.codec
    stream.bitrate_kbps = heard.bitrate_kbps
    stream.check_ok = True
    stream.check_detail = heard.detail[:500]
    stream.checked_at = now


def register_stream(
    *,
    session: Session,
    name: str,
    url: str,
    actor: User,
    heard: StreamCheck | StreamCheckError | None = None,
) -> StreamSource:
    """A new stream, in draft, once a check has heard its audio (StreamCheckError if not).

    `heard`: the check of this `url` made beforehand (listen()); None checks it now."""
    _must_be_admin(actor)
    name = _clean_name(session, name, None)
    url = valid_url(url)
    checked = _heard(url, heard)  # raises: nothing is saved for a stream nobody can hear
    now = utcnow()
    stream = StreamSource(
        name=name, url=url, created_by_id=actor.id, submitted_by_id=actor.id, created_at=now
    )
    _apply_check(stream, checked, now)
    stream.updated_at = now
    session.add(stream)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="stream",
        entity_id=saved_id(stream),
        after=_snapshot(stream),
    )
    return stream


def edit_stream(
    *,
    session: Session,
    stream: StreamSource,
    name: str,
    url: str,
    actor: User,
    heard: StreamCheck | StreamCheckError | None = None,
) -> StreamSource:
    """Rename it, or change its address: a new address is checked and goes back to review.

    `heard`: the check of the new `url` made beforehand; None checks it now if it changed."""
    _must_be_admin(actor)
    if stream.status == StreamStatus.RETIRED:
        raise StreamError("a retired stream cannot be edited", code="stream_retired")
    before = _snapshot(stream)
    stream.name = _clean_name(session, name, stream)
    url = valid_url(url)
    if url != stream.url:
        checked = _heard(url, heard)
        stream.url = url
        _apply_check(stream, checked, utcnow())
        stream.status = StreamStatus.DRAFT
        stream.submitted_by_id = actor.id
        stream.reviewed_by_id = None
        stream.reviewed_at = None
        stream.review_comment = ""
    stream.updated_at = utcnow()
    session.add(stream)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity_type="stream",
        entity_id=saved_id(stream),
        before=before,
        after=_snapshot(stream),
    )
    return stream


def recheck_stream(
    *,
    session: Session,
    stream: StreamSource,
    actor: User,
    heard: StreamCheck | StreamCheckError | None = None,
) -> StreamCheckError | None:
    """Check it again and record the result; the refusal is returned, not raised, since
    the result is worth keeping either way (an approver looks at it before approving)."""
    now = utcnow()
    result = heard if heard is not None else listen(stream.url)
    problem = result if isinstance(result, StreamCheckError) else None
    if isinstance(result, StreamCheck):
        _apply_check(stream, result, now)
    else:
        stream.check_ok = False
        stream.check_detail = str(result)[:500]
        stream.checked_at = now
    session.add(stream)
    audit.record(
        session,
        actor=actor,
        action="check",
        entity_type="stream",
        entity_id=saved_id(stream),
        after={"check_ok": stream.check_ok, "check_detail": stream.check_detail},
    )
    return problem


def can_review(actor: User, stream: StreamSource) -> bool:
    return actor.role in REVIEWERS and actor.id != stream.submitted_by_id


def _review(
    session: Session, stream: StreamSource, actor: User, action: str, to: StreamStatus
) -> None:
    if actor.role not in REVIEWERS:
        raise StreamError("only approvers and admins review streams", code="not_allowed")
    if actor.id == stream.submitted_by_id:
        raise StreamError(
            "you registered or changed this stream; another person must review it",
            code="stream_self_approval",
        )
    if stream.status != StreamStatus.DRAFT:
        raise StreamError(
            f"the stream is {stream.status}, not waiting for review",
            code="stream_wrong_status",
            status=stream.status,
        )
    before = _snapshot(stream)
    stream.status = to
    stream.reviewed_by_id = actor.id
    stream.reviewed_at = utcnow()
    session.add(stream)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="stream",
        entity_id=saved_id(stream),
        before=before,
        after=_snapshot(stream),
    )


def approve_stream(*, session: Session, stream: StreamSource, actor: User) -> None:
    """Four eyes: on air only once someone other than its submitter has approved it,
    after a check that heard audio."""
    if not stream.check_ok:
        raise StreamError(
            "the last check heard no audio; check the stream again first",
            code="stream_check_failed",
        )
    _review(session, stream, actor, "approve", StreamStatus.APPROVED)


def reject_stream(*, session: Session, stream: StreamSource, actor: User, comment: str) -> None:
    comment = " ".join((comment or "").split())
    if not comment:
        raise StreamError("say why: a comment is required to reject", code="comment_required")
    stream.review_comment = comment[:1000]
    _review(session, stream, actor, "reject", StreamStatus.REJECTED)


def retire_stream(*, session: Session, stream: StreamSource, actor: User) -> int:
    """Off the air for good: its relays leave every manifest at once and its schedules are
    switched off. Returns how many schedules were switched off."""
    if actor.role not in REVIEWERS:
        raise StreamError("only approvers and admins retire streams", code="not_allowed")
    if stream.status == StreamStatus.RETIRED:
        return 0
    before = _snapshot(stream)
    stream.status = StreamStatus.RETIRED
    stream.updated_at = utcnow()
    session.add(stream)
    schedules = session.exec(
        select(Schedule).where(Schedule.stream_id == stream.id, col(Schedule.is_active))
    ).all()
    for schedule in schedules:
        schedule.is_active = False
        schedule.updated_at = utcnow()
        session.add(schedule)
    audit.record(
        session,
        actor=actor,
        action="retire",
        entity_type="stream",
        entity_id=saved_id(stream),
        before=before,
        after={**_snapshot(stream), "schedules_switched_off": [s.id for s in schedules]},
    )
    return len(schedules)


def approved_streams(session: Session) -> list[StreamSource]:
    """What a schedule may relay, by name."""
    return list(
        session.exec(
            select(StreamSource)
            .where(StreamSource.status == StreamStatus.APPROVED)
            .order_by(StreamSource.name)
        )
    )


@dataclass(frozen=True)
class Relay:
    """What a playout needs to relay an occurrence: the stream, the slot, the fallback."""

    stream_id: int
    name: str
    url: str
    duration_s: float
    fallback: AudioFile | None  # an approved version's audio; None: silence
    kind: str = ""  # mp3, aac, hls


def relay_of(session: Session, occurrence: Occurrence) -> Relay | None:
    """The relay an occurrence plays, if its stream is approved at this moment; else None.

    For local playout, read as the occurrence is dispatched: a stream retired or sent back
    to review after the occurrence was planned is refused then too, as the manifest does.
    (None also for an occurrence that is not a relay: check `Schedule.stream_id` first.)
    """
    schedule = session.get(Schedule, occurrence.schedule_id)
    if schedule is None or schedule.stream_id is None:
        return None
    stream = session.get(StreamSource, schedule.stream_id)
    if stream is None or stream.status != StreamStatus.APPROVED:
        return None
    fallback = None
    if occurrence.audio_id and occurrence.version_id:
        version = session.get(ScriptVersion, occurrence.version_id)
        if version is not None and version.status == VersionStatus.APPROVED:
            fallback = session.get(AudioFile, occurrence.audio_id)
    return Relay(
        stream_id=saved_id(stream),
        name=stream.name,
        url=stream.url,
        duration_s=60.0 * (schedule.duration_min or 0),
        fallback=fallback,
        kind=stream.kind,
    )
