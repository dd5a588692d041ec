"""The audio pipeline and the content-addressed audio store.

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
import os
import re
import subprocess
import tempfile
import threading
from array import array
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from broadcaster.core.config import Settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.fsutil import fsync_directory, fsync_file
from broadcaster.core.models import (
    Area,
    AudioFile,
    Script,
    ScriptVersion,
    Station,
)
from broadcaster.audio.objectstore import RemoteError, S3Remote, remote_for
from broadcaster.audio.profiles import Profile
from broadcaster.speech.engines import Engine, EngineError, Speech, import_pydub
from broadcaster.speech.normalize import normalize
from broadcaster.newsroom.templating import (
    VARIABLES,
    check_template,
    context_for,
    expand,
    needs_station,
)

log = logging.getLogger(__name__)

# Bump when the pipeline changes what it makes from the same inputs.
PIPELINE_VERSION = 1
PEAK_BUCKETS = 300
FFMPEG_TIMEOUT_S = 300
# Sample-peak ceiling below the true-peak target: the band-limited speech and the MP3
# encoder add a little on top of the limiter's sample peaks.
LIMITER_MARGIN_DB = 2.0
LOUDNESS_TOLERANCE_LU = 0.75
FALLBACK_RETRY = timedelta(hours=1)

_LUFS_RE = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_TRUE_PEAK_RE = re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS")


class RenderError(Exception):
    """Audio could not be made; `retryable` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


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


class AudioStore:
    """Files named <key>.mp3 under two-character folders, written by rename only.

    With a remote (S3-compatible object storage) the folder is a cache of the bucket:
    renders are uploaded before their record is saved, and `local()` fetches back a file
    this machine lacks.
    """

    def __init__(self, root: Path, remote: S3Remote | None = None) -> None:
        self.root = Path(root)
        self.remote = remote

    def relative(self, key: str) -> str:
        return f"{key[:2]}/{key}.mp3"

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def local(self, audio: AudioFile) -> Path | None:
        """The record's file on this machine (fetched from the remote if need be), or None.

        Raises RemoteError when the remote cannot be reached.
        """
        path = self.absolute(audio.path)
        if _intact(path, audio.size):
            return path
        if self.remote is not None and self.remote.fetch(audio.path, path, sha256=audio.sha256):
            return path
        return None

    def publish(self, relative: str, sha256: str) -> None:
        if self.remote is not None:
            self.remote.upload(relative, self.absolute(relative), sha256=sha256)

    def discard(self, relative: str) -> None:
        self.absolute(relative).unlink(missing_ok=True)
        if self.remote is not None:
            self.remote.delete(relative)


def _intact(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


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


# Probe only the first few kilobytes: a WAV or MP3 header says all, and the default
# (megabytes) would make the encoder wait for the whole input before starting.
PROBE_ARGS = ["-probesize", "32768", "-analyzeduration", "0"]
FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]


def _ffmpeg(args: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    try:
        completed = subprocess.run(
            [*FFMPEG, *args],
            input=stdin,
            capture_output=True,
            timeout=FFMPEG_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise RenderError(
            "ffmpeg is not installed (Debian package ffmpeg)", retryable=False
        ) from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"ffmpeg took longer than {FFMPEG_TIMEOUT_S} s", retryable=True) from None
    if completed.returncode != 0:
        raise _ffmpeg_failure(completed.stderr)
    return completed


def _ffmpeg_failure(stderr: bytes) -> RenderError:
    tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
    text = " ".join(tail).lower()
    disk = "no space" in text or "file too large" in text or "quota" in text
    return RenderError("ffmpeg failed: " + " | ".join(tail), retryable=disk)


def _last_value(pattern: re.Pattern, stderr: bytes) -> float:
    # ffmpeg may configure a filter graph twice and print an empty summary for the
    # first one: the real figures are in the last summary.
    matches = pattern.findall(stderr.decode(errors="replace"))
    if not matches or matches[-1] == "-inf":
        return float("-inf")
    return float(matches[-1])


def _loudness(stderr: bytes) -> float:
    return _last_value(_LUFS_RE, stderr)


def _true_peak(stderr: bytes) -> float:
    return _last_value(_TRUE_PEAK_RE, stderr)


def _db_to_linear(db: float) -> float:
    return 10 ** (db / 20)


@dataclass(frozen=True)
class EncodedPart:
    """An MP3 part with what a listener's decoder gets from it: PCM, loudness, true peak."""

    mp3: bytes
    pcm: bytes
    lufs: float
    true_peak_db: float


def _mp3_args(profile: Profile) -> list[str]:
    # No Xing header and no tags per part: parts are joined frame by frame, and the tag
    # is written once on the joined file.
    return [
        "-c:a",
        "libmp3lame",
        "-b:a",
        profile.bitrate,
        "-ar",
        str(profile.sample_rate),
        "-ac",
        "1",
        "-write_xing",
        "0",
        "-id3v2_version",
        "0",
        "-f",
        "mp3",
    ]


def _pump(source, sinks: list, chunks: list[bytes]) -> None:
    """Copy `source` into `chunks` and every sink; a sink that dies is dropped, not waited on.

    Draining the source to the end whatever happens is what keeps the encoder from
    blocking on a full pipe when the measurer has failed.
    """
    live = list(sinks)
    try:
        # read1: pass on whatever is ready, so the measurer works while the encoder does.
        for chunk in iter(lambda: source.read1(1 << 16), b""):
            chunks.append(chunk)
            for sink in list(live):
                try:
                    sink.write(chunk)
                except OSError:
                    live.remove(sink)
    finally:
        for sink in sinks:
            try:
                sink.close()
            except OSError:
                pass


class EncodeJob:
    """An encoder ffmpeg piped into a measuring ffmpeg, started before its input exists.

    Starting both processes first lets their start-up (most of an ffmpeg run for a short
    announcement) overlap speech synthesis. The measurer decodes the encoder's MP3 as it
    streams, so the figures describe the actual file at little more than the encode cost.
    """

    def __init__(self, input_args: list[str], chain: str, profile: Profile) -> None:
        self._encoder_log = tempfile.TemporaryFile()
        self._measurer_log = tempfile.TemporaryFile()
        decoded = ["-f", "s16le", "-ar", str(profile.sample_rate), "-ac", "1", "pipe:1"]
        try:
            self._encoder = subprocess.Popen(
                [*FFMPEG, *input_args, "-i", "pipe:0", "-af", chain, *_mp3_args(profile), "pipe:1"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._encoder_log,
            )
        except FileNotFoundError:
            self._close_logs()
            raise RenderError(
                "ffmpeg is not installed (Debian package ffmpeg)", retryable=False
            ) from None
        try:
            self._measurer = self._start_measurer(decoded)
        except BaseException:
            self._encoder.kill()
            self._encoder.wait()
            self._encoder.stdin.close()
            self._encoder.stdout.close()
            self._close_logs()
            raise

    def _start_measurer(self, decoded: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            [
                *FFMPEG,
                "-f",
                "mp3",
                "-i",
                "pipe:0",
                "-af",
                "ebur128=peak=true:framelog=verbose",
                *decoded,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._measurer_log,
        )

    def _close_logs(self) -> None:
        self._encoder_log.close()
        self._measurer_log.close()

    def abort(self) -> None:
        for process in (self._encoder, self._measurer):
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                stream.close()
        self._close_logs()

    def finish(self, data: bytes) -> EncodedPart:
        encoder, measurer = self._encoder, self._measurer
        # A watchdog instead of wait(timeout=...): Popen's timed wait polls with sleeps
        # of up to 50 ms, which would cost more than the encode itself.
        timed_out = threading.Event()

        def kill_both() -> None:
            timed_out.set()
            encoder.kill()
            measurer.kill()

        watchdog = threading.Timer(FFMPEG_TIMEOUT_S, kill_both)
        watchdog.start()
        mp3_chunks: list[bytes] = []
        threads = [
            threading.Thread(target=_feed, args=(encoder.stdin, data)),
            threading.Thread(target=_pump, args=(encoder.stdout, [measurer.stdin], mp3_chunks)),
        ]
        try:
            for thread in threads:
                thread.start()
            pcm = measurer.stdout.read()
            for thread in threads:
                thread.join()
            encoder.wait()
            measurer.wait()
        finally:
            watchdog.cancel()
            encoder.stdout.close()
            measurer.stdout.close()
        try:
            if timed_out.is_set():
                raise RenderError(f"ffmpeg took longer than {FFMPEG_TIMEOUT_S} s", retryable=True)
            self._encoder_log.seek(0)
            self._measurer_log.seek(0)
            if encoder.returncode != 0:
                raise _ffmpeg_failure(self._encoder_log.read())
            measurement = self._measurer_log.read()
            if measurer.returncode != 0:
                raise _ffmpeg_failure(measurement)
        finally:
            self._close_logs()
        mp3 = b"".join(mp3_chunks)
        if not mp3:
            raise RenderError("the MP3 encoder produced nothing", retryable=True)
        return EncodedPart(
            mp3=mp3, pcm=pcm, lufs=_loudness(measurement), true_peak_db=_true_peak(measurement)
        )


def _feed(sink, data: bytes) -> None:
    try:
        sink.write(data)
    except BrokenPipeError:
        pass  # the encoder failed; its exit status and message tell why
    finally:
        try:
            sink.close()
        except BrokenPipeError:
            pass


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


def temporary_path(final: Path, key: str) -> Path:
    """Where a render is written before the rename: unique per process and thread, because
    two threads of one web process may render the same key at once."""
    return final.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp.mp3")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    temporary = temporary_path(final, key)
    try:
        with temporary.open("wb") as stream:
            stream.write(programme.mp3)
        write_tags(temporary, request.tags)
        fsync_file(temporary)
        os.replace(temporary, final)
        fsync_directory(final.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise RenderError(f"cannot write audio: {exc}", retryable=True) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

    sha256 = _sha256(final)
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


def collect_garbage(
    *,
    session: Session,
    store: AudioStore,
    retention: timedelta,
    keep_keys: set[str] = frozenset(),
    now: datetime | None = None,
) -> int:
    """Delete audio unused for `retention` and not in `keep_keys`; also stray files.

    Returns how many files were removed. Records go in the caller's transaction; files
    are removed first, as a record without a file is re-rendered on demand anyway.
    """
    cutoff = (now or utcnow()) - retention
    removed = 0
    stale = session.exec(select(AudioFile).where(AudioFile.last_used_at < cutoff)).all()
    known = {a.path for a in session.exec(select(AudioFile))}
    for audio in stale:
        if audio.key in keep_keys:
            continue
        store.discard(audio.path)
        known.discard(audio.path)
        session.delete(audio)
        removed += 1
    if store.root.is_dir():
        for path in store.root.glob("*/*.mp3"):
            relative = f"{path.parent.name}/{path.name}"
            is_stray = relative not in known or path.name.startswith(".")
            try:
                modified = datetime.fromtimestamp(path.stat().st_mtime, cutoff.tzinfo)
            except FileNotFoundError:
                continue  # another process finished or removed it meanwhile
            if is_stray and modified < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def store_for(settings: Settings) -> AudioStore:
    return AudioStore(settings.audio_dir, remote_for(settings))


def request_for_version(
    *,
    session: Session,
    script: Script,
    version: ScriptVersion,
    station: Station | None,
    profile: Profile,
    engine_name: str,
    on: date,
) -> RenderRequest:
    """What to render for `version` at `station` on day `on`: template filled, tags set.

    Tags only carry the commune and the day when the text depends on them, so a script
    without station variables renders once and is shared by every commune.
    """
    names = check_template(version.body)
    text = expand(version.body, context_for(session, station, on))
    per_station = any(VARIABLES[n].needs_station for n in names)
    per_day = any(not VARIABLES[n].needs_station for n in names)
    commune = ""
    if per_station and station is not None:
        area = session.get(Area, station.area_id)
        commune = area.name if area else ""
    return RenderRequest(
        text=text,
        voice=version.voice,
        speed=version.speed,
        repeat=version.repeat,
        profile=profile,
        engine_name=engine_name,
        tags=Tags(
            title=script.title,
            script=f"{script.slug} v{version.number}",
            commune=commune,
            date=on.isoformat() if per_day else version.created_at.date().isoformat(),
        ),
    )


def render_version(
    *,
    session: Session,
    settings: Settings,
    store: AudioStore,
    version: ScriptVersion,
    station: Station | None,
    on: date,
    profile_name: str | None = None,
    engine_name: str | None = None,
) -> RenderResult:
    """Render `version` exactly as it goes on air: the one way every part renders a version.

    Its own profile and engine unless the caller names others (version_settings), the
    template filled for `station` and day `on`, and the lexicon it was approved with, so
    what the CLI warms ahead is the very file the scheduler and the agents play.
    """
    from broadcaster.speech import engine_for, lexicon

    script = session.get(Script, version.script_id)
    profile, chosen_engine = version_settings(
        settings, version, profile_name=profile_name, engine_name=engine_name
    )
    request = request_for_version(
        session=session,
        script=script,
        version=version,
        station=station if needs_station(version.body) else None,
        profile=profile,
        engine_name=chosen_engine,
        on=on,
    )
    return render(
        session=session,
        store=store,
        request=request,
        engine=engine_for(settings, chosen_engine),
        lexicon=lexicon.for_version(session, version),
    )


def version_settings(
    settings: Settings,
    version: ScriptVersion | None = None,
    *,
    profile_name: str | None = None,
    engine_name: str | None = None,
) -> tuple[Profile, str]:
    """The profile and engine for a render: explicit choice, else the version's, else default."""
    from broadcaster.audio.profiles import deployment_profile

    chosen_profile = profile_name or (version.profile if version else "") or settings.audio_profile
    chosen_engine = engine_name or (version.engine if version else "") or settings.tts_engine
    return deployment_profile(settings, chosen_profile), chosen_engine


# espeak-ng reads Vietnamese at about this many spoken words (syllables) a second at
# speed 1.0 (3.9-4.1 measured on the Bluezone scripts); enough for an estimate while typing.
WORDS_PER_SECOND = 4.0


def estimate_duration(spoken: str, *, speed: float, repeat: int, profile: Profile) -> float:
    """Seconds on air: chimes, gaps, each reading and the pauses between them."""
    reading = len(spoken.split()) / (WORDS_PER_SECOND * speed)
    chimes = sum(
        _chime_seconds(path) + profile.gap_s
        for path in (profile.chime_open, profile.chime_close)
        if path is not None
    )
    return round(chimes + repeat * reading + (repeat - 1) * profile.pause_s, 1)


@lru_cache(maxsize=16)
def _chime_seconds_cached(path: str, mtime_ns: int) -> float:
    import wave

    with wave.open(path) as handle:
        return handle.getnframes() / handle.getframerate()


def _chime_seconds(path: Path) -> float:
    return _chime_seconds_cached(str(path), path.stat().st_mtime_ns)
