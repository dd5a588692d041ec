"""Checking an uploaded chime by its content: what ffprobe and a full decode say it is.

An upload is trusted by nothing it says about itself (name, extension, mimetype). ffmpeg
only opens local files here and only with demuxers of audio containers (FORMATS), so a
crafted upload cannot make it read playlists, other files or URLs. JingleError, every
refusal of the chimes page, lives here because checking is where most refusals start.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broadcaster.core.errors import BroadcasterError

MIN_SECONDS = 0.3
MAX_SECONDS = 15.0
TIMEOUT_S = 60
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
COUNT_RATE = 8000  # decoded length is counted at a low rate: cheap and precise enough


class JingleError(BroadcasterError):
    """A refused upload or change. `reason` is a stable code the web page translates."""

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, code=reason, **details)
        self.reason = reason


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


def _ffmpeg(args: list[str], level: str = "error") -> subprocess.CompletedProcess:
    return _run(["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-v", level, *args])
