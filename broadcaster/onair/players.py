"""Players (ffplay, aplay, null): each plays one file to the end; stop() cuts it short.

Used by the playout queue (onair.playout) in the scheduler's local playout and on the
station agent.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

log = logging.getLogger(__name__)
PLAYERS = ("auto", "ffplay", "aplay", "null")


class PlayerError(Exception):
    """A play failed; `retryable` says whether playing it again may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Player:
    """Plays one file to the end (blocking); stop() cuts it short from another thread."""

    name = "player"

    def play(self, path: Path, duration_s: float) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class NullPlayer(Player):
    """For machines without sound: takes as long as the audio would, plays nothing."""

    name = "null"

    def __init__(self, time_scale: float = 1.0) -> None:
        # time_scale < 1 lets tests and benchmarks run a day of plays in seconds.
        self._stopped = threading.Event()
        self.time_scale = time_scale

    def play(self, path: Path, duration_s: float) -> None:
        if not path.is_file():
            raise PlayerError(f"{path} does not exist", retryable=False)
        self._stopped.clear()
        self._stopped.wait(max(0.0, duration_s * self.time_scale))

    def stop(self) -> None:
        self._stopped.set()


class ProcessPlayer(Player):
    """A player that is an external program; stop() terminates it."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def command(self, path: Path) -> list[str] | str:
        raise NotImplementedError

    def play(self, path: Path, duration_s: float) -> None:
        if not path.is_file():
            raise PlayerError(f"{path} does not exist", retryable=False)
        command = self.command(path)
        with self._lock:
            self._stopped = False
            try:
                self._process = subprocess.Popen(
                    command,
                    shell=isinstance(command, str),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                raise PlayerError(f"{self.name} cannot start: {exc}", retryable=False) from exc
        _, stderr = self._process.communicate()
        if self._process.returncode != 0 and not self._stopped:
            message = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise PlayerError(f"{self.name} failed: {message[0]}", retryable=True)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._process and self._process.poll() is None:
                os.killpg(self._process.pid, 15)


class FfplayPlayer(ProcessPlayer):
    name = "ffplay"

    def command(self, path: Path) -> list[str]:
        return ["ffplay", "-nodisp", "-autoexit", "-loglevel", "error", str(path)]


class AplayPlayer(ProcessPlayer):
    """ALSA's aplay plays WAV only: ffmpeg decodes the MP3 into it."""

    name = "aplay"

    def command(self, path: Path) -> str:
        import shlex

        return f"ffmpeg -nostdin -loglevel error -i {shlex.quote(str(path))} -f wav - | aplay -q -"


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
        return AplayPlayer()
    return NullPlayer()
