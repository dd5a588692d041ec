"""Levelling an uploaded chime: decoded to mono 24 kHz 16-bit WAV at -16 LUFS, then checked.

Also measures a chime's loudness (BS.1770, as render measures chimes) for the chimes page.
"""

from __future__ import annotations

import json
import math
import re
import wave
from functools import lru_cache
from pathlib import Path

from broadcaster.audio.jinglecheck import (
    _SAFE_INPUT,
    MAX_SECONDS,
    MIN_SECONDS,
    JingleError,
    _decode_args,
    _ffmpeg,
)

# BS.1770 measures loudness in 400 ms blocks: a shorter chime has no loudness at all (and
# render levels chimes by their loudness), so chimes are padded with silence to this length.
MEASURABLE_SECONDS = 0.5
SAMPLE_RATE = 24000
TARGET_LUFS = -16.0
TRUE_PEAK_DB = -1.5
QUIETEST_LUFS = -60.0  # anything quieter is silence or noise, not a chime
_LUFS_RE = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_LOUDNORM_RE = re.compile(r"\[Parsed_loudnorm_\d+ @ [^\]]*\]\s*(\{[^{}]*\})")


def _prepare_chain() -> str:
    return f"aformat=channel_layouts=mono,apad=whole_dur={MEASURABLE_SECONDS}"


def _loudnorm(extra: str = "") -> str:
    return f"loudnorm=I={TARGET_LUFS}:TP={TRUE_PEAK_DB}:LRA=11{extra}"


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
