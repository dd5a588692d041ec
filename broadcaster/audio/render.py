"""Rendering an announcement into the audio store: the public face of rendering.

Owns the request and its key (the hash of everything that shapes the file) and `render`,
which finds the file in the store or makes it. The work is done by its siblings:
ffmpeg (processes, measurement), pipeline (the steps below), store (files, garbage) and
versions (render_version, estimates); their public names are importable from here.

text → template expansion → normalize → TTS → condition (ffmpeg: band-limit, compress,
measure) → assemble (pydub: chimes, repeats, pauses) → level, limit, encode and measure
(one ffmpeg pass) → MP3 in the store, with a record of what was made.

Loudness is reached without a slow loudnorm pass: the conditioned speech is measured
once (BS.1770 via ffmpeg's ebur128), chimes are brought to the speech's loudness, and
the whole programme gets one gain plus a true-peak limiter while it is encoded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from broadcaster.audio.ffmpeg import RenderError
from broadcaster.audio.objectstore import RemoteError
from broadcaster.audio.pipeline import assemble, frame_for, speak_and_encode, write_tags
from broadcaster.audio.profiles import Profile
from broadcaster.audio.store import AudioStore, collect_garbage, sha256_of, store_for
from broadcaster.audio.versions import (
    estimate_duration,
    render_version,
    request_for_version,
    version_settings,
)
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.fsutil import replacing
from broadcaster.core.models import AudioFile
from broadcaster.speech.engines import Engine, EngineError
from broadcaster.speech.normalize import normalize

# The public face of rendering: importers use these names from here.
__all__ = [
    "AudioStore",
    "RenderError",
    "RenderRequest",
    "RenderResult",
    "Tags",
    "collect_garbage",
    "estimate_duration",
    "frame_for",
    "render",
    "render_key",
    "render_version",
    "request_for_version",
    "store_for",
    "version_settings",
]

log = logging.getLogger(__name__)

# Bump when the pipeline changes what it makes from the same inputs.
PIPELINE_VERSION = 1
FALLBACK_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Tags:
    title: str = ""
    script: str = ""
    commune: str = ""
    date: str = ""


@dataclass(frozen=True)
class RenderRequest:
    text: str
    voice: str
    speed: float
    repeat: int
    profile: Profile
    engine_name: str
    tags: Tags = Tags()


@dataclass(frozen=True)
class RenderResult:
    audio: AudioFile
    path: Path
    cached: bool


def render_key(spoken: str, request: RenderRequest) -> str:
    """The hash of everything that shapes the file.

    The spoken text already carries the lexicon's and the normalizer's effect, so a
    lexicon edit re-renders exactly the texts whose reading it changes.
    """
    material = {
        "pipeline": PIPELINE_VERSION,
        "spoken": spoken,
        "voice": request.voice,
        "speed": round(request.speed, 3),
        "repeat": request.repeat,
        "engine": request.engine_name,
        "profile": request.profile.fingerprint(),
        "tags": asdict(request.tags),
    }
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def render(
    *,
    session: Session,
    store: AudioStore,
    request: RenderRequest,
    engine: Engine,
    lexicon: Mapping[str, str] | None = None,
) -> RenderResult:
    """Render `request` into the store, or find it there. Adds (never commits) the record."""
    spoken = normalize(request.text, lexicon=lexicon)
    if not spoken.strip():
        raise RenderError("there is nothing to read aloud", retryable=False)
    key = render_key(spoken, request)
    existing = session.exec(select(AudioFile).where(AudioFile.key == key)).first()
    if existing is not None:
        try:
            path = store.local(existing)
        except RemoteError as exc:
            if exc.retryable:
                raise RenderError(str(exc), retryable=True) from exc
            path = None  # a damaged object: rendering again replaces it
        intact = path is not None
        # A fallback voice stood in for the one asked for (e.g. Google was unreachable):
        # keep using it for a while, then give the first engine another chance.
        stale_fallback = existing.fallback and utcnow() - existing.created_at > FALLBACK_RETRY
        if intact and not stale_fallback:
            existing.last_used_at = utcnow()
            session.add(existing)
            return RenderResult(audio=existing, path=path, cached=True)
        if not intact:
            log.warning("audio %s is recorded but missing or damaged; rendering again", key)

    try:
        speech, body = speak_and_encode(
            engine, spoken, request.voice, request.speed, request.profile
        )
    except EngineError as exc:
        raise RenderError(f"speech synthesis failed: {exc}", retryable=exc.retryable) from exc
    programme = assemble(body, frame_for(request.profile), request.repeat, request.profile)

    relative = store.relative(key)
    final = store.absolute(relative)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        # 0644 whatever the umask or an older file: nginx serves the store as another user.
        with replacing(final, mode=0o644) as temporary:
            temporary.write_bytes(programme.mp3)
            write_tags(temporary, request.tags)
    except OSError as exc:
        raise RenderError(f"cannot write audio: {exc}", retryable=True) from exc

    sha256 = sha256_of(final)
    try:
        # Before the record: a record must never name audio the bucket lacks.
        store.publish(relative, sha256)
    except RemoteError as exc:
        raise RenderError(str(exc), retryable=exc.retryable) from exc
    values = dict(
        sha256=sha256,
        path=relative,
        size=final.stat().st_size,
        duration_s=programme.duration_s,
        lufs=programme.lufs,
        true_peak_db=programme.true_peak_db,
        engine=speech.engine,
        voice=speech.voice,
        fallback=speech.fallback,
        profile=request.profile.name,
        spoken_text=spoken,
        peaks=json.dumps(programme.peaks),
        created_at=utcnow(),
        last_used_at=utcnow(),
    )
    record = existing or AudioFile(key=key, **values)
    for name, value in values.items():
        setattr(record, name, value)
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # Another process rendered the same input at the same moment: same bytes, one record.
        record = session.exec(select(AudioFile).where(AudioFile.key == key)).one()
        return RenderResult(audio=record, path=final, cached=True)
    return RenderResult(audio=record, path=final, cached=False)
