"""Chimes uploaded by an admin: checked by content, normalized, and used by a profile.

An upload is trusted by nothing it says about itself (name, extension, mimetype). It is
copied to a temporary file (at most MAX_BYTES; reading stops at MAX_BYTES + 1), probed
with ffprobe (a known audio container, an audio stream, no video, 0.3-15 s), decoded and
normalized by ffmpeg (mono, 24 kHz, 16-bit WAV at -16 LUFS) into a second temporary file,
checked again as WAV, and only then linked into instance/jingles/<slug>.wav. On any
refusal both temporary files are removed: nothing is left on disk.

ffmpeg only opens local files here and only with demuxers of audio containers
(FORMATS), so a crafted upload cannot make it read playlists, other files or URLs.

A profile uses an uploaded chime through an override file in the profiles folder
(OVERRIDE_FILE) that copies the profile's settings and names the chime custom/<slug>.wav;
broadcaster.audio.profiles resolves that inside the custom folder. Profile.fingerprint hashes
chime contents, so renders after a change get new keys by themselves.

The parts: jinglecheck (checking by content, JingleError), jinglelevel (levelling),
jinglefiles (storing) and jingleprofiles (using in a profile). This module is their public
face: the web page and the tests use the names below from here.
"""

from __future__ import annotations

import os
import tempfile
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from sqlmodel import Session

from broadcaster.audio.jinglecheck import (
    FORMATS,
    MAX_SECONDS,
    MIN_SECONDS,
    JingleError,
    Probe,
    _check_duration,
    check,
    decoded_seconds,
    probe,
)
from broadcaster.audio.jinglefiles import (
    MAX_BYTES,
    OUTPUT_PREFIX,
    SLUG_MAX,
    Jingle,
    _copy_limited,
    _custom_path,
    _link_unique,
    _listed,
    _remove,
    _source_dirs,
    _sweep_stale,
    custom_dir,
    find_file,
)
from broadcaster.audio.jinglelevel import _check_output, measure_lufs, normalize, wav_seconds
from broadcaster.audio.jingleprofiles import (
    CHIME_KEYS,
    OVERRIDE_FILE,
    _apply_override,
    _base_settings,
    _chimes_of,
    chime_uses,
    current_override,
)
from broadcaster.audio.profiles import CUSTOM_PREFIX
from broadcaster.core import audit
from broadcaster.core.config import Settings
from broadcaster.core.fsutil import fsync_file
from broadcaster.core.models import User
from broadcaster.core.text import slugify

__all__ = [
    "CHIME_KEYS",
    "FORMATS",
    "MAX_BYTES",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "NAME_MAX",
    "OVERRIDE_FILE",
    "Jingle",
    "JingleError",
    "Probe",
    "add_jingle",
    "check",
    "chime_uses",
    "current_override",
    "custom_dir",
    "decoded_seconds",
    "delete_jingle",
    "find_file",
    "list_jingles",
    "measure_lufs",
    "normalize",
    "probe",
    "restore_default_chimes",
    "use_jingle",
    "wav_seconds",
]

NAME_MAX = 60


def list_jingles(settings: Settings) -> list[Jingle]:
    """The shipped chimes, then the uploaded ones, with length, loudness and users."""
    uses = chime_uses(settings)
    result = []
    for source, folder in _source_dirs(settings).items():
        for filename, path in _listed(folder).items():
            try:
                seconds: float | None = round(wav_seconds(path), 2)
            except (OSError, EOFError, wave.Error):
                seconds = None
            reference = filename if source == "shipped" else CUSTOM_PREFIX + filename
            result.append(
                Jingle(
                    source=source,
                    filename=filename,
                    path=path,
                    duration_s=seconds,
                    lufs=measure_lufs(path),
                    uses=tuple(uses.get(reference, ())),
                )
            )
    return result


def add_jingle(
    session: Session,
    *,
    settings: Settings,
    name: str,
    stream: IO[bytes],
    actor: User | None,
    original_filename: str = "",
) -> Jingle:
    """Check, normalize and store an uploaded chime; audited in the caller's transaction."""
    label = " ".join(name.split())
    slug = slugify(label, max_length=SLUG_MAX)
    if not label or len(label) > NAME_MAX or not slug:
        raise JingleError("bad_name", "a chime needs a name with letters or digits")
    folder = custom_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    _sweep_stale(folder)
    upload: Path | None = None
    output: Path | None = None
    final: Path | None = None
    try:
        upload, size = _copy_limited(stream, folder)
        check(probe(upload))
        seconds = decoded_seconds(upload)
        _check_duration(seconds)
        fd, output_name = tempfile.mkstemp(prefix=OUTPUT_PREFIX, suffix=".wav", dir=folder)
        os.close(fd)
        output = Path(output_name)
        normalize(upload, output)
        _check_output(output)
        fsync_file(output)
        final = _link_unique(output, folder, slug)
        lufs = measure_lufs(final)
        audit.record(
            session,
            actor=actor,
            action="upload",
            entity_type="jingle",
            entity_id=final.stem,
            after={
                "file": CUSTOM_PREFIX + final.name,
                "name": label,
                "uploaded_as": original_filename[:200],
                "bytes_uploaded": size,
                "duration_s": round(wav_seconds(final), 2),
                "lufs": lufs,
            },
        )
        session.flush()
    except BaseException:
        _remove(final)
        raise
    finally:
        _remove(upload)
        _remove(output)
    return Jingle(
        source="custom",
        filename=final.name,
        path=final,
        duration_s=round(wav_seconds(final), 2),
        lufs=lufs,
        uses=(),
    )


def use_jingle(
    session: Session,
    *,
    settings: Settings,
    name: str,
    keys: Iterable[str],
    actor: User | None,
    profile: str | None = None,
) -> str:
    """Make the uploaded chime `name` the opening and/or closing chime of the profile
    (default: settings.audio_profile); returns the profile's name."""
    wanted = [key for key in CHIME_KEYS if key in set(keys)]
    if not wanted:
        raise JingleError("no_keys", "choose the opening chime, the closing chime or both")
    path = _custom_path(settings, name)
    profile = profile or settings.audio_profile
    entry = _base_settings(settings, profile)
    override = current_override(settings, profile)
    old = override or _chimes_of(entry)
    if override:  # keep an uploaded chime already chosen for the other end
        entry.update({k: v for k, v in override.items() if str(v).startswith(CUSTOM_PREFIX)})
    for key in wanted:
        entry[key] = CUSTOM_PREFIX + path.name
    audit.record(
        session,
        actor=actor,
        action="set_chimes",
        entity_type="profile",
        entity_id=profile,
        before=old,
        after=_chimes_of(entry),
    )
    session.flush()  # a database fault shows before the file changes
    _apply_override(settings, profile, entry)
    return profile


def restore_default_chimes(
    session: Session, *, settings: Settings, actor: User | None, profile: str | None = None
) -> bool:
    """Drop the profile from the override file: its own chimes again. False if nothing to do."""
    profile = profile or settings.audio_profile
    before = current_override(settings, profile)
    if before is None:
        return False
    audit.record(
        session,
        actor=actor,
        action="reset_chimes",
        entity_type="profile",
        entity_id=profile,
        before=before,
        after=_chimes_of(_base_settings(settings, profile)),
    )
    session.flush()  # a database fault shows before the file changes
    _apply_override(settings, profile, None)
    return True


def delete_jingle(session: Session, *, settings: Settings, name: str, actor: User | None) -> None:
    """Delete an uploaded chime; refused while any profile names it."""
    path = _custom_path(settings, name)
    users = chime_uses(settings).get(CUSTOM_PREFIX + path.name)
    if users:
        profile, key = users[0]
        raise JingleError("in_use", f"profile {profile!r} uses it as {key}", profile=profile)
    before = {
        "file": CUSTOM_PREFIX + path.name,
        "duration_s": round(wav_seconds(path), 2),
        "lufs": measure_lufs(path),
    }
    audit.record(
        session,
        actor=actor,
        action="delete",
        entity_type="jingle",
        entity_id=name,
        before=before,
    )
    session.flush()  # a database fault shows before the file goes
    path.unlink()
