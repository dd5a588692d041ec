"""Players (aplay, ffplay, null): prepared ahead, released at the instant, played to the end.

Used by the playout queue (onair.playout) in the scheduler's local playout and on the
station agent. A play has three steps so that the slow part happens before its time:
`prepare` (the file opened and decoded, the sound program started with its device open
and the first second of audio ready), `release` (that audio handed to the device: the
moment the play goes on air) and `wait` (until the end). stop() cuts it short from
another thread; cancel() drops a prepared play that was never released.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)
PLAYERS = ("auto", "ffplay", "aplay", "null")
ALSA_DEVICE_ENV = "BROADCASTER_ALSA_DEVICE"  # aplay's -D; unset: ALSA's default device

# What the decoder hands the sound program: raw PCM, so the program opens the device as
# it starts instead of after reading a header.
RATE = 44100
CHANNELS = 2
BYTES_PER_SECOND = RATE * CHANNELS * 2
# Decoded before the instant and written at once on release. More than aplay's buffer
# (0.5 s), so the device starts on that one write, not when the pump catches up.
HEAD_BYTES = BYTES_PER_SECOND
READY_TIMEOUT_S = 5.0  # for the sound program to open its device
PIPE_BYTES = 1 << 20  # room for the head: release never waits for the program to read
# The rest follows a moment after the head (which lasts a second): at an instant when
# several stations start together, their decoders do not take the processor from the
# sound programs that are starting.
PUMP_AFTER_S = 0.2


class PlayerError(Exception):
    """A play failed; `retryable` says whether playing it again may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Player:
    """One play at a time: prepare, release, wait; stop() and cancel() from any thread."""

    name = "player"

    def prepare(self, path: Path, duration_s: float) -> None:
        """Everything but the sound itself; raises PlayerError when it cannot play."""
        raise NotImplementedError

    def release(self) -> None:
        """Start the prepared play now; returns as its audio has left for the device."""
        raise NotImplementedError

    def wait(self) -> None:
        """Block until the play ends (or is stopped); raises PlayerError if it failed."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Drop a prepared play without sound (another must go first)."""
        self.stop()

    def play(self, path: Path, duration_s: float) -> None:
        """Prepare and play at once (a repeat, or a play already late)."""
        self.prepare(path, duration_s)
        self.release()
        self.wait()


class NullPlayer(Player):
    """For machines without sound: opens the file, takes as long as the audio would."""

    name = "null"

    def __init__(self, time_scale: float = 1.0) -> None:
        # time_scale < 1 lets tests and benchmarks run a day of plays in seconds.
        self._stopped = threading.Event()
        self._duration_s = 0.0
        self.time_scale = time_scale

    def prepare(self, path: Path, duration_s: float) -> None:
        try:
            with path.open("rb") as audio:  # as a real player would: it must be readable
                audio.read(4096)
        except OSError as exc:
            reason = "does not exist" if isinstance(exc, FileNotFoundError) else str(exc)
            raise PlayerError(f"{path} {reason}", retryable=False) from exc
        self._stopped.clear()
        self._duration_s = duration_s

    def release(self) -> None:
        pass

    def wait(self) -> None:
        self._stopped.wait(max(0.0, self._duration_s * self.time_scale))

    def stop(self) -> None:
        self._stopped.set()


class PipePlayer(Player):
    """ffmpeg decodes the file to PCM ahead; a sound program reading PCM on stdin plays it.

    prepare() starts both and holds the first second of PCM; release() writes it to the
    program, already running with its device open, and a pump copies the rest.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._decoder: subprocess.Popen | None = None
        self._sink: subprocess.Popen | None = None
        self._head = b""
        self._go = threading.Event()
        self._halt = threading.Event()
        self._pump: threading.Thread | None = None
        self._listener: _Listener | None = None
        self._pump_error = ""

    # A line the sound program prints once its device is open and set up; None: no sign.
    ready_line: str | None = None
    error_prefix = ""  # how its error lines begin (aplay -v also describes its setup)

    def sink_command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self, path: Path, duration_s: float) -> None:
        self._reap()
        if not path.is_file():
            raise PlayerError(f"{path} does not exist", retryable=False)
        with self._lock:
            self._stopped = False
            self._go = threading.Event()
            self._halt = threading.Event()
            self._pump_error = ""
        # The sound program first: its start-up (ALSA reads its configuration, opens the
        # device) overlaps the decoding of the head.
        sink = _start(self.sink_command(), self.name, stdin=subprocess.PIPE)
        listener = _Listener(sink, self.ready_line, self.error_prefix)
        try:
            decoder = _start(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path)]
                + ["-f", "s16le", "-ac", str(CHANNELS), "-ar", str(RATE), "pipe:1"],
                "ffmpeg",
                stdout=subprocess.PIPE,
            )
        except PlayerError:
            _end(sink, listener)
            raise
        assert decoder.stdout is not None and sink.stdin is not None
        head = decoder.stdout.read(HEAD_BYTES)
        if not head:
            decoder.wait()
            reason = _last_line(decoder.stderr)
            _end(decoder)
            _end(sink, listener)
            raise PlayerError(f"cannot decode {path.name}: {reason}", retryable=False)
        # Prepared means the device is open: a program still starting at the instant would
        # make the play late by its start-up.
        if not listener.opened.wait(READY_TIMEOUT_S) or sink.poll() is not None:
            _end(decoder)
            _end(sink, listener)
            reason = listener.reason() or "it did not open its device in time"
            raise PlayerError(f"{self.name} cannot play: {reason}", retryable=True)
        try:
            fcntl.fcntl(sink.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:  # a lower pipe-max-size: release then waits for the first read
            pass
        pump = threading.Thread(
            target=self._feed, args=(decoder, sink, self._go, self._halt), daemon=True
        )
        with self._lock:
            self._decoder, self._sink, self._head, self._pump = decoder, sink, head, pump
            self._listener = listener
            stopped = self._stopped
        pump.start()
        if stopped:  # stop() came while we were starting: nothing of it may sound
            self.cancel()

    def release(self) -> None:
        with self._lock:
            sink, head, stopped = self._sink, self._head, self._stopped
            self._head = b""
        if stopped or sink is None or sink.stdin is None:
            return
        view = memoryview(head)
        try:
            while view:
                view = view[os.write(sink.stdin.fileno(), view) :]
        except OSError as exc:  # the program died: wait() reports what it said
            self._pump_error = str(exc)
        self._go.set()

    def _feed(
        self,
        decoder: subprocess.Popen,
        sink: subprocess.Popen,
        go: threading.Event,
        halt: threading.Event,
    ) -> None:
        go.wait()
        halt.wait(PUMP_AFTER_S)
        assert decoder.stdout is not None and sink.stdin is not None
        try:
            if not self._stopped:
                while chunk := decoder.stdout.read(65536):
                    sink.stdin.write(chunk)
        except OSError as exc:
            self._pump_error = self._pump_error or str(exc)
        finally:
            try:
                sink.stdin.close()
            except OSError:
                pass
            decoder.stdout.close()

    def wait(self) -> None:
        with self._lock:
            decoder, sink, pump = self._decoder, self._sink, self._pump
        if sink is None or decoder is None or pump is None:
            return
        try:
            pump.join()
            sink.wait()
            decoder.wait()
            if self._stopped:
                return
            if sink.returncode != 0:
                said = self._listener.reason() if self._listener else ""
                reason = said or self._pump_error or f"exit {sink.returncode}"
                raise PlayerError(f"{self.name} failed: {reason}", retryable=True)
            if decoder.returncode != 0:
                raise PlayerError(f"ffmpeg failed: {_last_line(decoder.stderr)}", retryable=True)
        finally:
            self._reap()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for process in (self._sink, self._decoder):
                if process is not None:
                    _kill(process)
            self._go.set()
            self._halt.set()

    def cancel(self) -> None:
        self.stop()
        self._reap()

    def _reap(self) -> None:
        with self._lock:
            processes = [p for p in (self._sink, self._decoder) if p is not None]
            pump, listener = self._pump, self._listener
            self._sink = self._decoder = self._pump = self._listener = None
        if pump is not None:
            self._go.set()
            self._halt.set()
            pump.join()
        for process in processes:
            process.wait()
        if listener is not None:
            listener.join()
        for process in processes:
            _close(process)


def _start(command: list[str], name: str, **streams) -> subprocess.Popen:
    streams.setdefault("stdin", subprocess.DEVNULL)
    streams.setdefault("stdout", subprocess.DEVNULL)
    try:
        return subprocess.Popen(command, stderr=subprocess.PIPE, start_new_session=True, **streams)
    except OSError as exc:
        raise PlayerError(f"{name} cannot start: {exc}", retryable=False) from exc


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


class _Listener:
    """Reads what a sound program prints, in a thread: its sign of being ready, its errors."""

    def __init__(self, process: subprocess.Popen, ready_line: str | None, prefix: str) -> None:
        self.opened = threading.Event()
        if ready_line is None:
            self.opened.set()
        self._lines: list[str] = []
        self._ready_line = ready_line
        self._prefix = prefix
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stderr is not None
        try:
            for raw in process.stderr:
                line = raw.decode(errors="replace").strip()
                if self._ready_line and self._ready_line in line:
                    self.opened.set()
                elif line and line.startswith(self._prefix):
                    self._lines = [*self._lines[-9:], line]
        except (OSError, ValueError):  # closed under us: the play is being dropped
            pass
        finally:
            self.opened.set()  # at its end too: prepare must not wait for a dead program

    def reason(self) -> str:
        return self._lines[-1] if self._lines else ""

    def join(self) -> None:
        self._thread.join(timeout=5)


def _end(process: subprocess.Popen, listener: _Listener | None = None) -> None:
    _kill(process)
    # aplay restarts a read that SIGTERM interrupted, and ffmpeg a write: the end of
    # their pipes is what stops them.
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    process.wait()
    if listener is not None:
        listener.join()
    _close(process)


def _close(process: subprocess.Popen) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:  # a pipe whose reader is gone: nothing left to flush
                pass


def _last_line(stream: IO[bytes] | None) -> str:
    # The programs run quietly (-loglevel error, -q): what they print is the reason.
    text = stream.read().decode(errors="replace") if stream is not None else ""
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


class AplayPlayer(PipePlayer):
    """ALSA's aplay, on ALSA's default device or BROADCASTER_ALSA_DEVICE."""

    name = "aplay"
    ready_line = "boundary"  # the last field of the setup it prints (-v)
    error_prefix = "aplay:"

    def __init__(self, device: str | None = None) -> None:
        super().__init__()
        self.device = device

    def sink_command(self) -> list[str]:
        device = ["-D", self.device] if self.device else []
        # -R 1: the device starts on the first frames written, not once its buffer is full
        # (the head is there at once). -v: it describes its setup once the device is open,
        # which is the sign prepare waits for.
        return ["aplay", "-q", "-v", "-R", "1", "-t", "raw", "-f", "S16_LE"] + [
            "-r",
            str(RATE),
            "-c",
            str(CHANNELS),
            *device,
            "-",
        ]


class FfplayPlayer(PipePlayer):
    """ffplay (SDL): raw PCM on stdin, so it has nothing to probe before it opens the device."""

    name = "ffplay"

    def sink_command(self) -> list[str]:
        return ["ffplay", "-nodisp", "-autoexit", "-loglevel", "error", "-f", "s16le"] + [
            "-sample_rate",
            str(RATE),
            "-ch_layout",
            "stereo" if CHANNELS == 2 else "mono",
            "-i",
            "pipe:0",
        ]


def make_player(name: str) -> Player:
    """The player by name; "auto" picks ffplay where there is a sound card, else null."""
    if name not in PLAYERS:
        raise ValueError(f"unknown player {name!r}; choose {', '.join(PLAYERS)}")
    if name == "auto":
        has_sound = Path("/dev/snd").is_dir() and any(Path("/dev/snd").iterdir())
        name = "ffplay" if has_sound and shutil.which("ffplay") else "null"
        if name == "null":
            log.warning("playout: no sound card found; playing silently (null player)")
    if name == "ffplay":
        if not shutil.which("ffplay"):
            raise ValueError("ffplay not found: install the Debian package ffmpeg")
        return FfplayPlayer()
    if name == "aplay":
        if not shutil.which("aplay"):
            raise ValueError("aplay not found: install the Debian package alsa-utils")
        return AplayPlayer(os.environ.get(ALSA_DEVICE_ENV) or None)
    return NullPlayer()
