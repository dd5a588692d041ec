"""Checking a radio stream before anyone relays it: connect, read and decode a few seconds.

Owns the one ffmpeg run that says whether a URL (Icecast/HTTP MP3 or AAC, or an HLS
playlist) carries audio a station can relay, and why not: unreachable, not audio, a
playlist without audio, an unsupported codec, or silent for too long. A refusal is a
StreamCheckError with a stable code (web/messages.py has its Vietnamese sentence).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

from broadcaster.core.errors import BroadcasterError

CHECK_SECONDS = 2.0  # of audio decoded: enough to know it is a live stream, short to wait
CONNECT_TIMEOUT_S = 5.0
CODEC_KINDS = {"mp3": "mp3", "aac": "aac"}  # what the players relay, by ffmpeg codec name
MAX_URL = 1000

_INPUT_RE = re.compile(r"^Input #0, ([\w,]+), from", re.MULTILINE)
_AUDIO_RE = re.compile(
    r"Stream #0:\d+[^:]*: Audio: (\w+)[^\n]*?(?:, (\d+) kb/s)?\s*$", re.MULTILINE
)
_TIME_RE = re.compile(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)")
_UNREACHABLE = (
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "Name or service not known",
    "Failed to resolve",
    "Server returned 4",
    "Server returned 5",
    "HTTP error",
    "End of file",
    "Network is unreachable",
    "I/O error",
)


class StreamCheckError(BroadcasterError):
    """The stream cannot be relayed; the message (English) is safe to show."""


@dataclass(frozen=True)
class StreamCheck:
    """What a successful check heard."""

    kind: str  # mp3 | aac | hls
    codec: str
    bitrate_kbps: int | None
    seconds: float
    detail: str


def valid_url(url: str) -> str:
    """The URL stripped, or StreamCheckError if it is not an http(s) URL with a host."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise StreamCheckError(
            "the stream address must be an http:// or https:// URL", code="stream_bad_url"
        )
    return url


def check_stream(
    url: str, *, seconds: float = CHECK_SECONDS, timeout_s: float = CONNECT_TIMEOUT_S
) -> StreamCheck:
    """Connect to `url` and decode `seconds` of its audio; StreamCheckError says why not."""
    url = valid_url(url)
    timeout_us = str(int(timeout_s * 1_000_000))
    command = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info",
        "-rw_timeout", timeout_us,
        # HLS segments are fetched by ffmpeg's HLS demuxer over loopback or the LAN only
        # as the playlist names them; nothing else is allowed to open local files.
        "-protocol_whitelist", "http,https,tcp,tls,crypto,hls",
        "-i", url, "-map", "0:a:0", "-t", f"{seconds:.2f}", "-f", "null", "-",
    ]  # fmt: skip
    # Live streams arrive in real time: reading `seconds` takes about that long, after
    # the connection; the rest is margin for a slow start (HLS fetches a playlist first).
    limit = seconds + 3 * timeout_s + 5
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    except FileNotFoundError:
        raise StreamCheckError("ffmpeg is not installed", code="stream_check_unavailable") from None
    except subprocess.TimeoutExpired:
        raise StreamCheckError(
            f"no audio within {limit:.0f} s: the stream stalls", code="stream_timeout"
        ) from None
    return _verdict(run.returncode, run.stderr, seconds)


def _verdict(returncode: int, log: str, seconds: float) -> StreamCheck:
    container = _INPUT_RE.search(log)
    audio = _AUDIO_RE.search(log)
    if container is None:
        if any(marker in log for marker in _UNREACHABLE):
            raise StreamCheckError(
                f"cannot connect to the stream: {_last_line(log)}", code="stream_unreachable"
            )
        raise StreamCheckError(
            f"the address does not serve audio: {_last_line(log)}", code="stream_not_audio"
        )
    is_hls = "hls" in container.group(1).split(",")
    if audio is None:
        if is_hls:
            raise StreamCheckError(
                "the HLS playlist carries no audio", code="stream_playlist_without_audio"
            )
        raise StreamCheckError("the stream carries no audio", code="stream_not_audio")
    codec = audio.group(1)
    if codec not in CODEC_KINDS:
        raise StreamCheckError(
            f"the stream's audio is {codec}; stations relay MP3 or AAC",
            code="stream_unsupported_codec",
            codec=codec,
        )
    heard = _decoded_seconds(log)
    if returncode != 0 or heard < seconds * 0.5:
        raise StreamCheckError(
            f"the stream stopped after {heard:.1f} s of audio: {_last_line(log)}",
            code="stream_interrupted",
        )
    bitrate = int(audio.group(2)) if audio.group(2) else None
    kind = "hls" if is_hls else CODEC_KINDS[codec]
    detail = f"{codec}" + (f", {bitrate} kb/s" if bitrate else "") + f", {heard:.1f} s decoded"
    return StreamCheck(kind=kind, codec=codec, bitrate_kbps=bitrate, seconds=heard, detail=detail)


def _decoded_seconds(log: str) -> float:
    times = _TIME_RE.findall(log)
    if not times:
        return 0.0
    hours, minutes, secs = times[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no answer"
