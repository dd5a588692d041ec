"""The per-station playout queue: plays due items one at a time, emergencies first.

Used by local playout in the scheduler and by the station agent. Items due together play
back-to-back in priority order, never on top of each other; an emergency interrupts
whatever plays. The players themselves are in onair.players.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadcaster.core.events import EventKind
from broadcaster.core.priority import Priority
from broadcaster.onair.players import Player, PlayerError

log = logging.getLogger(__name__)


@dataclass(order=True)
class Cue:
    """Something to play; ordered by due time, then priority (highest first)."""

    at: datetime
    rank: int  # -priority, so emergency sorts first within a slot
    order: int = field(default=0, kw_only=True)  # then the station's collision order
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
