"""Running ffmpeg for the renderer: one-shot runs, the streaming encode-and-measure job.

Owns the processes (start-up overlapped with synthesis, pipes drained so nothing blocks,
a watchdog instead of polling), reading loudness and true peak from ffmpeg's ebur128
summary, and RenderError, which says whether trying again later can help.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broadcaster.audio.profiles import Profile

FFMPEG_TIMEOUT_S = 300

_LUFS_RE = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_TRUE_PEAK_RE = re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS")


class RenderError(Exception):
    """Audio could not be made; `retryable` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


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
