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
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import re
import subprocess
import tempfile
import time
import unicodedata
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import yaml
from sqlmodel import Session

from broadcaster.audio.profiles import (
    CUSTOM_PREFIX,
    JINGLES_DIR,
    SHIPPED,
    ProfileError,
    load_profiles,
)
from broadcaster.core import audit
from broadcaster.core.config import Settings
from broadcaster.core.errors import BroadcasterError
from broadcaster.core.models import User

MAX_BYTES = 2 * 1024 * 1024
MIN_SECONDS = 0.3
MAX_SECONDS = 15.0
# BS.1770 measures loudness in 400 ms blocks: a shorter chime has no loudness at all (and
# render levels chimes by their loudness), so chimes are padded with silence to this length.
MEASURABLE_SECONDS = 0.5
SAMPLE_RATE = 24000
TARGET_LUFS = -16.0
TRUE_PEAK_DB = -1.5
QUIETEST_LUFS = -60.0  # anything quieter is silence or noise, not a chime
TIMEOUT_S = 60
CHUNK = 64 * 1024
STALE_TEMP_S = 3600
NAME_MAX = 60
SLUG_MAX = 40
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
FILE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.wav$")
UPLOAD_PREFIX = ".upload-"
OUTPUT_PREFIX = ".normalized-"
# Profiles files are read in name order and a later file replaces a profile of the same
# name: "zz-" makes this one come after a province's own files, so the chimes chosen on
# the page win while the province's other settings are copied into it.
OVERRIDE_FILE = "zz-custom-chimes.yaml"
CHIME_KEYS = ("chime_open", "chime_close")
# Demuxers of audio containers (and of the video containers they share, so that a video
# is refused as a video). Everything else (images, playlists, concat, raw text) is refused.
FORMATS = (
    "wav",
    "w64",
    "mp3",
    "flac",
    "ogg",
    "mov",
    "mp4",
    "m4a",
    "matroska",
    "webm",
    "aac",
    "aiff",
    "caf",
    "asf",
)
_SAFE_INPUT = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(FORMATS)]
_LUFS_RE = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_LOUDNORM_RE = re.compile(r"\[Parsed_loudnorm_\d+ @ [^\]]*\]\s*(\{[^{}]*\})")
COUNT_RATE = 8000  # decoded length is counted at a low rate: cheap and precise enough


class JingleError(BroadcasterError):
    """A refused upload or change. `reason` is a stable code the web page translates."""

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, code=reason, **details)
        self.reason = reason


@dataclass(frozen=True)
class Jingle:
    source: str  # "shipped" or "custom"
    filename: str
    path: Path
    duration_s: float | None
    lufs: float | None
    uses: tuple[tuple[str, str], ...]  # (profile, chime key) pairs that name this file

    @property
    def name(self) -> str:
        return self.filename.removesuffix(".wav")

    @property
    def reference(self) -> str:
        """How a profile names this chime."""
        return self.filename if self.source == "shipped" else CUSTOM_PREFIX + self.filename


def custom_dir(settings: Settings) -> Path:
    """The deployment's folder of uploaded chimes (pass it to load_profiles as custom_dir)."""
    return settings.instance_dir / "jingles"


def slugify(name: str) -> str:
    """ASCII a-z, 0-9 and hyphens from a Vietnamese name: "Chuông Huế" -> "chuong-hue"."""
    text = name.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-")


# ---------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Probe:
    format_name: str
    duration_s: float | None
    audio_streams: int
    video_streams: int


def _run(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JingleError("unavailable", f"{args[0]} could not process the file: {exc}") from exc


def probe(path: Path) -> Probe:
    """What the file's content says it is (ffprobe), never its name."""
    completed = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-hide_banner",
            *_SAFE_INPUT,
            "-show_entries",
            "stream=codec_type:stream_disposition=attached_pic:format=format_name,duration",
            "-of",
            "json",
            f"file:{path}",
        ]
    )
    try:
        data = json.loads(completed.stdout or b"{}")
    except ValueError:
        data = {}
    if completed.returncode != 0 or "format" not in data:
        raise JingleError("not_audio", "not an audio file ffmpeg can read")
    streams = data.get("streams") or []
    # Cover art in an MP3 or M4A is a still picture attached to the audio, not a video.
    video = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    try:
        duration = float(data["format"]["duration"])
    except (KeyError, TypeError, ValueError):
        duration = None
    if duration is not None and not math.isfinite(duration):
        duration = None
    return Probe(
        format_name=str(data["format"].get("format_name", "")),
        duration_s=duration,
        audio_streams=len(audio),
        video_streams=len(video),
    )


def _check_duration(seconds: float) -> None:
    if seconds < MIN_SECONDS or seconds > MAX_SECONDS:
        reason = "too_short" if seconds < MIN_SECONDS else "too_long"
        raise JingleError(
            reason,
            f"a chime must last {MIN_SECONDS}-{MAX_SECONDS} s, this one lasts {seconds:.1f} s",
            seconds=seconds,
        )


def check(found: Probe) -> None:
    if found.video_streams:
        raise JingleError("has_video", "the file holds a video stream")
    if not found.audio_streams:
        raise JingleError("not_audio", "the file holds no audio stream")
    if found.duration_s is not None:
        _check_duration(found.duration_s)


def decoded_seconds(source: Path) -> float:
    """How long the audio really is, by decoding it (a header may lie or say nothing)."""
    completed = _ffmpeg(
        [*_decode_args(source), "-ac", "1", "-ar", str(COUNT_RATE), "-f", "s16le", "pipe:1"]
    )
    if completed.returncode != 0 or not completed.stdout:
        raise JingleError("not_audio", "the audio stream could not be decoded")
    return len(completed.stdout) / 2 / COUNT_RATE


def _decode_args(source: Path) -> list[str]:
    # -t bounds the work whatever the header claims; the result's length is checked after.
    return [*_SAFE_INPUT, "-i", f"file:{source}", "-map", "0:a:0", "-t", str(MAX_SECONDS + 0.5)]


def _prepare_chain() -> str:
    return f"aformat=channel_layouts=mono,apad=whole_dur={MEASURABLE_SECONDS}"


def _loudnorm(extra: str = "") -> str:
    return f"loudnorm=I={TARGET_LUFS}:TP={TRUE_PEAK_DB}:LRA=11{extra}"


def _ffmpeg(args: list[str], level: str = "error") -> subprocess.CompletedProcess:
    return _run(["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-v", level, *args])


def normalize(source: Path, target: Path) -> None:
    """Decode `source` and write it to `target` as mono 24 kHz 16-bit WAV at -16 LUFS.

    Two passes of loudnorm: the first measures (and proves the stream decodes), the second
    applies the measured values, linearly where the true-peak limit allows.
    """
    chain = f"{_prepare_chain()},{_loudnorm(':print_format=json')}"
    measured = _ffmpeg([*_decode_args(source), "-af", chain, "-f", "null", "-"], level="info")
    found = _LOUDNORM_RE.search(measured.stderr.decode("utf-8", "replace"))
    if measured.returncode != 0 or found is None:
        raise JingleError("not_audio", "the audio stream could not be decoded")
    try:
        values = json.loads(found.group(1))
        loudness = float(values["input_i"])
        peak = float(values["input_tp"])
        lra = float(values["input_lra"])
        threshold = float(values["input_thresh"])
        offset = float(values["target_offset"])
    except (ValueError, KeyError, TypeError):
        raise JingleError("not_audio", "the audio stream could not be decoded") from None
    if not math.isfinite(loudness) or loudness < QUIETEST_LUFS or not math.isfinite(offset):
        raise JingleError("silent", "the audio is silent or nearly so")
    applied = _loudnorm(
        f":measured_I={loudness}:measured_TP={peak}:measured_LRA={lra}"
        f":measured_thresh={threshold}:offset={offset}:linear=true"
    )
    written = _ffmpeg(
        [
            "-y",
            *_decode_args(source),
            "-af",
            f"{_prepare_chain()},{applied},aresample={SAMPLE_RATE}",
            "-ar",
            str(SAMPLE_RATE),
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-f",
            "wav",
            f"file:{target}",
        ]
    )
    if written.returncode != 0:
        raise JingleError("not_audio", "the audio stream could not be decoded")


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as handle:
        return handle.getnframes() / handle.getframerate()


def _check_output(path: Path) -> None:
    """The normalized file is the WAV we asked for and no longer than allowed."""
    try:
        with wave.open(str(path)) as handle:
            shape = (handle.getnchannels(), handle.getframerate(), handle.getsampwidth())
            seconds = handle.getnframes() / handle.getframerate()
    except (OSError, EOFError, wave.Error):
        raise JingleError("not_audio", "the audio stream could not be decoded") from None
    if shape != (1, SAMPLE_RATE, 2) or not MIN_SECONDS <= seconds <= MAX_SECONDS + 0.05:
        raise JingleError("not_audio", f"unexpected output: {shape}, {seconds:.2f} s")


def measure_lufs(path: Path) -> float | None:
    """Integrated loudness (BS.1770, as render measures chimes); cached per file version."""
    stat = path.stat()
    return _measure_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _measure_cached(path: str, mtime_ns: int, size: int) -> float | None:
    try:
        completed = _ffmpeg(
            [*_SAFE_INPUT, "-i", f"file:{path}", "-af", "ebur128", "-f", "null", "-"], level="info"
        )
    except JingleError:  # no ffmpeg: the page shows the chime without its loudness
        return None
    found = _LUFS_RE.findall(completed.stderr.decode("utf-8", "replace"))
    if completed.returncode != 0 or not found:
        return None
    value = float(found[-1])
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------------------ files


def _remove(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sweep_stale(folder: Path) -> None:
    """Temporary files a killed process left behind (never a live upload's: those are new)."""
    cutoff = time.time() - STALE_TEMP_S
    for prefix in (UPLOAD_PREFIX, OUTPUT_PREFIX):
        for path in folder.glob(prefix + "*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


def _copy_limited(stream: IO[bytes], folder: Path) -> tuple[Path, int]:
    """The upload in a temporary file; reading stops at MAX_BYTES + 1, the file is then gone."""
    fd, name = tempfile.mkstemp(prefix=UPLOAD_PREFIX, dir=folder)
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            while size <= MAX_BYTES:
                chunk = stream.read(min(CHUNK, MAX_BYTES + 1 - size))
                if not chunk:
                    break
                handle.write(chunk)
                size += len(chunk)
        if size > MAX_BYTES:
            raise JingleError("too_large", f"the file is larger than {MAX_BYTES} bytes")
        if size == 0:
            raise JingleError("empty", "the file is empty")
    except BaseException:
        _remove(path)
        raise
    return path, size


def _link_unique(source: Path, folder: Path, slug: str) -> Path:
    """Give `source` the first free name slug.wav, slug-2.wav, ... without ever replacing."""
    for number in range(1, 1000):
        suffix = "" if number == 1 else f"-{number}"
        target = folder / f"{slug[: SLUG_MAX - len(suffix)].rstrip('-')}{suffix}.wav"
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        return target
    raise JingleError("bad_name", "too many chimes with this name")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _listed(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.glob("*.wav")) if FILE_RE.match(p.name)}


def _source_dirs(settings: Settings) -> dict[str, Path]:
    return {"shipped": JINGLES_DIR, "custom": custom_dir(settings)}


def find_file(settings: Settings, source: str, filename: str) -> Path | None:
    """A chime file by its folder and name, only if it is one the listing shows."""
    folder = _source_dirs(settings).get(source)
    if folder is None or not FILE_RE.match(filename):
        return None
    return _listed(folder).get(filename)


def _custom_path(settings: Settings, name: str) -> Path:
    if not SLUG_RE.match(name):
        raise JingleError("not_found", f"no uploaded chime named {name!r}")
    path = _listed(custom_dir(settings)).get(f"{name}.wav")
    if path is None:
        raise JingleError("not_found", f"no uploaded chime named {name!r}")
    return path


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


# --------------------------------------------------------------------------- profiles


def _profile_files(settings: Settings) -> list[Path]:
    folder = settings.profiles_dir
    extra = sorted(folder.glob("*.yaml")) if folder and folder.is_dir() else []
    return [SHIPPED, *extra]


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise JingleError("profile", f"{path}: cannot read profiles: {exc}") from exc
    if not isinstance(data, dict):
        raise JingleError("profile", f"{path}: must map profile names to settings")
    return data


def _normalized_reference(value: object) -> str | None:
    """custom/x.wav however it is spelled (custom/./x.wav), else the value as text."""
    if value is None:
        return None
    text = str(value)
    if text.startswith(CUSTOM_PREFIX):
        return CUSTOM_PREFIX + os.path.normpath(text.removeprefix(CUSTOM_PREFIX))
    return os.path.normpath(text)


def chime_uses(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Which (profile, key) pairs name each chime, in the profiles as they take effect.

    Read from the YAML itself, so a profile that fails to load still holds on to its chime.
    """
    effective: dict[str, Any] = {}
    for path in _profile_files(settings):
        try:
            data = _read_yaml(path)
        except JingleError:
            continue
        effective.update({str(name): raw for name, raw in data.items()})
    uses: dict[str, list[tuple[str, str]]] = {}
    for name, raw in effective.items():
        if not isinstance(raw, dict):
            continue
        for key in CHIME_KEYS:
            reference = _normalized_reference(raw.get(key))
            if reference:
                uses.setdefault(reference, []).append((name, key))
    return uses


def _base_settings(settings: Settings, profile: str) -> dict:
    """The profile's settings as they take effect without our override file."""
    found = None
    for path in _profile_files(settings):
        if path.name == OVERRIDE_FILE and path.parent == settings.profiles_dir:
            continue
        data = _read_yaml(path)
        if profile in data:
            found = data[profile]
    if not isinstance(found, dict):
        raise JingleError("profile", f"no profile named {profile!r}")
    return copy.deepcopy(found)


def _override_path(settings: Settings) -> Path:
    if settings.profiles_dir is None:
        raise JingleError("profile", "no profiles folder is configured")
    return settings.profiles_dir / OVERRIDE_FILE


def _write_yaml_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Written by the chimes page (broadcaster.audio.customjingles): the profile's settings\n"
        "# with uploaded chimes. Remove a profile here to go back to its own chimes.\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    # Not *.yaml, so load_profiles never reads a half-written file.
    fd, name = tempfile.mkstemp(prefix=".custom-chimes-", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def _restore(path: Path, previous: str | None) -> None:
    if previous is None:
        _remove(path)
    else:
        _write_raw_atomically(path, previous)


def _write_raw_atomically(path: Path, text: str) -> None:
    fd, name = tempfile.mkstemp(prefix=".custom-chimes-", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def _chimes_of(raw: dict | None) -> dict[str, Any]:
    raw = raw or {}
    return {key: raw.get(key) for key in CHIME_KEYS}


def _verify(settings: Settings, profile: str, wanted: dict[str, Path | None]) -> None:
    """The profiles load, and `profile` really uses the chimes we wrote."""
    try:
        loaded = load_profiles(settings.profiles_dir, custom_dir=custom_dir(settings))
    except ProfileError as exc:
        raise JingleError("profile", str(exc)) from exc
    chosen = loaded.get(profile)
    for key, path in wanted.items():
        actual = getattr(chosen, key, None) if chosen else None
        if (actual.resolve() if actual else None) != (path.resolve() if path else None):
            raise JingleError("profile", f"another profiles file overrides {profile!r}.{key}")


def _apply_override(settings: Settings, profile: str, entry: dict | None) -> None:
    """Write (or, with None, remove) `profile` in the override file, then check it took."""
    path = _override_path(settings)
    previous = path.read_text(encoding="utf-8") if path.is_file() else None
    data = _read_yaml(path) if previous is not None else {}
    if entry is None:
        data.pop(profile, None)
    else:
        data[profile] = entry
    if data:
        _write_yaml_atomically(path, data)
    else:
        _remove(path)
    try:
        base = _base_settings(settings, profile) if entry is None else entry
        wanted = {}
        for key in CHIME_KEYS:
            value = base.get(key)
            if value is None:
                wanted[key] = None
            elif str(value).startswith(CUSTOM_PREFIX):
                wanted[key] = custom_dir(settings) / str(value).removeprefix(CUSTOM_PREFIX)
            else:
                wanted[key] = JINGLES_DIR / str(value)
        _verify(settings, profile, wanted)
    except BaseException:
        _restore(path, previous)
        raise


def current_override(settings: Settings, profile: str) -> dict[str, Any] | None:
    """The chimes our override file sets for `profile`, or None when it sets nothing."""
    path = settings.profiles_dir / OVERRIDE_FILE if settings.profiles_dir else None
    if path is None or not path.is_file():
        return None
    raw = _read_yaml(path).get(profile)
    return _chimes_of(raw) if isinstance(raw, dict) else None


# --------------------------------------------------------------------------- services


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
    slug = slugify(label)
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
        _fsync(output)
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
