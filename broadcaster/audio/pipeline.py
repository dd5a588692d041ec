"""The render pipeline: condition and encode speech, level chimes, join parts, tag the file.

text already spoken → condition (band-limit, compress, limit) and encode while measuring →
a second pass only if the first missed the loudness target → chimes brought to the
target → parts joined MP3 frame by MP3 frame → ID3 tags on the joined file.
"""

from __future__ import annotations

import json
import logging
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.audio.ffmpeg import (
    PROBE_ARGS,
    EncodedPart,
    EncodeJob,
    RenderError,
    _db_to_linear,
    _ffmpeg,
    _loudness,
)
from broadcaster.audio.profiles import Profile
from broadcaster.speech.engines import Engine, Speech, import_pydub

if TYPE_CHECKING:
    from broadcaster.audio.render import Tags

log = logging.getLogger(__name__)

PEAK_BUCKETS = 300
# Sample-peak ceiling below the true-peak target: the band-limited speech and the MP3
# encoder add a little on top of the limiter's sample peaks.
LIMITER_MARGIN_DB = 2.0
LOUDNESS_TOLERANCE_LU = 0.75


def conditioning_chain(profile: Profile, gain_db: float, ceiling_db: float) -> str:
    """Band-limit, level, compress and limit speech for horn loudspeakers."""
    return ",".join(
        [
            # Two biquads each way (24 dB/octave): what a horn cannot reproduce only
            # costs amplifier power, and the MP3 encoder would cut it unevenly anyway.
            f"highpass=f={profile.highpass_hz}:poles=2",
            f"highpass=f={profile.highpass_hz}:poles=2",
            f"lowpass=f={profile.lowpass_hz}:poles=2",
            f"lowpass=f={profile.lowpass_hz}:poles=2",
            # Peaks to full scale first, so the compressor below sees the same level
            # whatever the engine's output level was.
            "speechnorm=e=6:r=0.0005:l=1",
            "acompressor="
            f"threshold={_db_to_linear(profile.compressor_threshold_db):.6f}"
            f":ratio={profile.compressor_ratio}"
            f":attack={profile.compressor_attack_ms}:release={profile.compressor_release_ms}"
            f":makeup={_db_to_linear(profile.compressor_makeup_db):.4f}",
            f"volume={gain_db:.3f}dB",
            f"alimiter=limit={_db_to_linear(ceiling_db):.6f}:level=disabled"
            ":attack=3:release=50:latency=1",
            f"aresample={profile.sample_rate}",
        ]
    )


def speak_and_encode(
    engine: Engine, spoken: str, voice: str, speed: float, profile: Profile
) -> tuple[Speech, EncodedPart]:
    """Synthesize, condition and encode the body in one pass; correct once if it missed.

    The chain ends in a limiter at a fixed ceiling after a fixed make-up gain, so its
    loudness is nearly the same for any speech: the profile is tuned to land on target,
    the MP3 is measured, and only a miss costs a second pass with the difference applied.
    """
    ceiling = profile.true_peak_db - LIMITER_MARGIN_DB
    # No input format: ffmpeg recognises WAV (espeak-ng, Piper) and MP3 (gTTS) itself,
    # so the job can start before we know which engine will answer.
    job = EncodeJob(PROBE_ARGS, conditioning_chain(profile, 0, ceiling), profile)
    try:
        speech = engine.synthesize(spoken, voice=voice, speed=speed)
    except BaseException:
        job.abort()
        raise
    part = job.finish(speech.data)
    if part.lufs < -60:
        raise RenderError("the engine produced silence", retryable=True)
    miss = profile.target_lufs - part.lufs
    overshoot = part.true_peak_db - profile.true_peak_db
    if abs(miss) > LOUDNESS_TOLERANCE_LU or overshoot > 0:
        log.info("render: %.2f LU off target, peak %.2f dBTP; second pass", miss, part.true_peak_db)
        chain = conditioning_chain(profile, miss, ceiling - max(0.0, overshoot + 0.3))
        part = EncodeJob(PROBE_ARGS, chain, profile).finish(speech.data)
    return speech, part


def encode_pcm(pcm: bytes, profile: Profile) -> EncodedPart:
    """Encode prepared PCM (chimes, silence) as it is, measured like the body."""
    ceiling = _db_to_linear(profile.true_peak_db - LIMITER_MARGIN_DB)
    return EncodeJob(
        ["-f", "s16le", "-ar", str(profile.sample_rate), "-ac", "1"],
        f"alimiter=limit={ceiling:.6f}:level=disabled:attack=3:release=50:latency=1",
        profile,
    ).finish(pcm)


@lru_cache(maxsize=16)
def _chime_pcm(path: str, digest_key: int, sample_rate: int) -> tuple[bytes, float]:
    """A chime decoded to the profile's rate, with its loudness; cached per file version."""
    completed = _ffmpeg(
        [
            "-i",
            path,
            "-af",
            "ebur128=framelog=verbose",
            "-ar",
            str(sample_rate),
            "-ac",
            "1",
            "-f",
            "s16le",
            "pipe:1",
        ],
        b"",
    )
    return completed.stdout, _loudness(completed.stderr)


def _segment(pcm: bytes, rate: int):
    return import_pydub().AudioSegment(data=pcm, sample_width=2, frame_rate=rate, channels=1)


def _silence(seconds: float, rate: int):
    return import_pydub().AudioSegment.silent(duration=int(seconds * 1000), frame_rate=rate)


def _chime_at_target(path: Path | None, profile: Profile):
    """The chime levelled to the profile's target loudness, so it matches the speech."""
    if path is None:
        return import_pydub().AudioSegment.empty()
    stat = path.stat()
    pcm, lufs = _chime_pcm(str(path), hash((stat.st_mtime_ns, stat.st_size)), profile.sample_rate)
    return _segment(pcm, profile.sample_rate).apply_gain(profile.target_lufs - lufs)


@dataclass(frozen=True)
class Frame:
    """The parts every programme of a profile shares: encoded once per process."""

    opening: EncodedPart | None
    pause: EncodedPart | None
    closing: EncodedPart | None


@lru_cache(maxsize=8)
def _frame_cached(fingerprint: str, profile: Profile) -> Frame:
    def part(segment) -> EncodedPart | None:
        return encode_pcm(segment.raw_data, profile) if len(segment) else None

    rate = profile.sample_rate
    opening = _chime_at_target(profile.chime_open, profile)
    closing = _chime_at_target(profile.chime_close, profile)
    gap = _silence(profile.gap_s, rate)
    return Frame(
        opening=part(opening + gap) if len(opening) else None,
        pause=part(_silence(profile.pause_s, rate)),
        closing=part(gap + closing) if len(closing) else None,
    )


def frame_for(profile: Profile) -> Frame:
    return _frame_cached(json.dumps(profile.fingerprint(), sort_keys=True), profile)


# A preview needs the envelope, not every sample: looking at one sample in eight keeps
# the shape and costs an eighth of the time.
PEAK_DECIMATION = 8


def peaks(raw: bytes, buckets: int = PEAK_BUCKETS) -> list[float]:
    """Peak level per slice, 0..1 relative to the loudest slice, for a waveform preview."""
    samples = array("h")
    samples.frombytes(raw[: len(raw) // 2 * 2])
    samples = samples[::PEAK_DECIMATION]
    if not samples:
        return []
    step = max(1, -(-len(samples) // buckets))
    values = []
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        values.append(max(max(chunk), -min(chunk)))
    top = max(values) or 1
    return [round(v / top, 3) for v in values]


@dataclass(frozen=True)
class Programme:
    mp3: bytes
    duration_s: float
    lufs: float
    true_peak_db: float
    peaks: list[float]


def assemble(body: EncodedPart, frame: Frame, repeat: int, profile: Profile) -> Programme:
    """chime, gap, body (repeat× with pauses), gap, chime, joined frame by frame.

    The body is encoded once however often it is read: MP3 frames of parts encoded with
    the same settings can follow one another, and each part starts a fresh bit reservoir.
    """
    order: list[EncodedPart] = []
    if frame.opening:
        order.append(frame.opening)
    for index in range(repeat):
        if index and frame.pause:
            order.append(frame.pause)
        order.append(body)
    if frame.closing:
        order.append(frame.closing)
    pcm = b"".join(part.pcm for part in order)
    return Programme(
        mp3=b"".join(part.mp3 for part in order),
        duration_s=round(len(pcm) / 2 / profile.sample_rate, 3),
        # Chimes are levelled to the same target, so the body's loudness is the programme's.
        lufs=body.lufs,
        true_peak_db=max(part.true_peak_db for part in order),
        peaks=peaks(pcm),
    )


def write_tags(path: Path, tags: Tags) -> None:
    """ID3v2.3 title, script, commune and date on the joined file."""
    from mutagen.id3 import COMM, ID3, TALB, TDRC, TENC, TIT2, TPE1

    tag = ID3()
    for frame_class, value in (
        (TIT2, tags.title),
        (TALB, tags.script),
        (TPE1, tags.commune),
        (TDRC, tags.date),
    ):
        if value:
            tag.add(frame_class(encoding=3, text=value))
    tag.add(TENC(encoding=3, text="Broadcaster"))
    if tags.script:
        tag.add(COMM(encoding=3, lang="vie", desc="script", text=tags.script))
    tag.save(path, v2_version=3)
