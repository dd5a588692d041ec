"""Players (ffplay, aplay, null) and the per-station queue that plays items one at a time.

Used by local playout in the scheduler and by the station agent. Items due together play
back-to-back in priority order, never on top of each other; an emergency interrupts
whatever plays.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadcaster.core.events import EventKind
from broadcaster.core.priority import Priority

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


@dataclass(order=True)
class Cue:
    """Something to play; ordered by due time, then priority (highest first)."""

    at: datetime
    rank: int  # -priority, so emergency sorts first within a slot
    schedule_id: int
    occurrence_id: int = field(compare=False)
    path: Path = field(compare=False)
    duration_s: float = field(compare=False)
    repeat: int = field(default=1, compare=False)

    @property
    def priority(self) -> int:
        return -self.rank


# (event kind, item, detail); returning False for "started" cancels the play.
Callback = Callable[[str, Cue, str], bool | None]


class PlayoutQueue:
    """One thread per station: plays due items one at a time, emergencies first."""

    def __init__(self, player: Player, on_event: Callback, name: str = "station") -> None:
        self._player = player
        self._on_event = on_event
        self._heap: list[tuple[Cue, int]] = []
        self._counter = itertools.count()
        self._cv = threading.Condition()
        self._current: Cue | None = None
        self._interrupted = False
        self._closing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"playout-{name}", daemon=True)
        self._thread.start()

    def submit(self, item: Cue) -> None:
        with self._cv:
            heapq.heappush(self._heap, (item, next(self._counter)))
            current = self._current
            if (
                current is not None
                and item.priority == Priority.EMERGENCY
                and current.priority < Priority.EMERGENCY
            ):
                self._interrupted = True
                self._player.stop()
            self._cv.notify()

    def idle(self) -> bool:
        with self._cv:
            return self._current is None and not self._heap

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.02)
        return self.idle()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._closing = self._current is not None
            self._player.stop()
            self._cv.notify()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                item, _ = heapq.heappop(self._heap)
                self._current = item
                self._interrupted = False
            self._play(item)
            with self._cv:
                self._current = None

    def _play(self, item: Cue) -> None:
        if self._on_event(EventKind.STARTED, item, "") is False:
            return  # the owner logged why it must not play now
        try:
            for _ in range(item.repeat):
                self._player.play(item.path, item.duration_s)
                if self._interrupted or self._closing:
                    break
        except PlayerError as exc:
            self._on_event(EventKind.FAILED, item, str(exc))
            return
        except Exception as exc:  # a broken player must not kill the station's queue
            log.exception("playout: unexpected error")
            self._on_event(EventKind.FAILED, item, f"unexpected: {exc}")
            return
        if self._closing:
            self._on_event(EventKind.INTERRUPTED, item, "cut short: the player was shut down")
        elif self._interrupted:
            self._on_event(EventKind.INTERRUPTED, item, "interrupted by an emergency broadcast")
        else:
            self._on_event(EventKind.FINISHED, item, "")
