"""The per-station playout queue: plays due items one at a time, emergencies first.

Used by local playout in the scheduler and by the station agent. Items due together play
back-to-back in priority order, never on top of each other; an emergency interrupts
whatever plays. The players themselves are in onair.players.

A relay (a Cue with `relay`) is the layer underneath: an item of higher priority pauses
it, plays, and the relay resumes (a new leg of the same occurrence) for what is left of
its slot. A normal item due during a relay waits for the relay to end, and its owner
decides at "started" whether it is still within grace.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broadcaster.core.events import EventKind
from broadcaster.core.priority import Priority
from broadcaster.onair.players import Player, PlayerError
from broadcaster.onair.relay import RelayPlayer, Tally, relay_player_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelaySlot:
    """A stream to relay from the cue's `at` for its `duration_s` (the slot ends then,
    however late the relay began), with the cached fallback bulletin to play while the
    stream is down (None: silence)."""

    url: str
    name: str
    fallback: Path | None = None
    # The relay was on air when its player's process stopped: this cue resumes it, and
    # counts from here (what aired before the restart is not in the summary).
    resumed: bool = False


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
    relay: RelaySlot | None = field(default=None, compare=False)

    @property
    def priority(self) -> int:
        return -self.rank


# (event kind, item, detail); returning False for "started" cancels the play.
Callback = Callable[[str, Cue, str], bool | None]


class PlayoutQueue:
    """One thread per station: plays due items one at a time, emergencies first."""

    def __init__(
        self,
        player: Player,
        on_event: Callback,
        name: str = "station",
        relay: RelayPlayer | None = None,
    ) -> None:
        self._player = player
        self._relay = relay or relay_player_for(player.name)
        self._suspended: tuple[Cue, Tally] | None = None  # a relay paused for a priority item
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
            if current is not None and current.relay is not None:
                if item.priority > current.priority:
                    self._interrupted = True  # the relay pauses; _run resumes it
                    self._relay.stop()
            elif (
                current is not None
                and item.priority == Priority.EMERGENCY
                and current.priority < Priority.EMERGENCY
            ):
                self._interrupted = True
                self._player.stop()
            self._cv.notify()

    def idle(self) -> bool:
        with self._cv:
            return self._current is None and not self._heap and self._suspended is None

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
            self._relay.stop()
            self._cv.notify()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._closed and self._suspended is None:
                    self._cv.wait()
                if self._closed:
                    break
                resumed = self._resumable()
                item = resumed[0] if resumed else heapq.heappop(self._heap)[0]
                self._current = item
                self._interrupted = False
            if item.relay is not None:
                self._play_relay(item, resumed[1] if resumed else None)
            else:
                self._play(item)
            with self._cv:
                self._current = None
        if self._suspended is not None:
            item, tally = self._suspended
            detail = f"cut short: the player was shut down; {tally.summary()}"
            self._on_event(EventKind.INTERRUPTED, item, detail)

    def _resumable(self) -> tuple[Cue, Tally] | None:
        """The paused relay, taken back up unless something above it is still waiting."""
        suspended = self._suspended
        if suspended is None or (self._heap and self._heap[0][0].priority > suspended[0].priority):
            return None
        self._suspended = None
        return suspended

    def _play_relay(self, item: Cue, tally: Tally | None) -> None:
        """A relay's leg: the first begins its play, a later one resumes it after an item
        of higher priority. It ends with the seconds relayed, or pauses again."""
        assert item.relay is not None
        slot = item.relay
        # A fast null player (tests, benchmarks) shortens the slot as it does a file.
        length = item.duration_s * getattr(self._player, "time_scale", 1.0)
        ends_at = item.at + timedelta(seconds=length)
        remaining = (ends_at - datetime.now(UTC)).total_seconds()
        if tally is None and not slot.resumed:
            if not self._wait_for(item.at):
                self._on_event(EventKind.INTERRUPTED, item, "not played: playout was shut down")
                return
            if self._on_event(EventKind.STARTED, item, f"relay of {slot.name}") is False:
                return
            tally = Tally(slot_s=length)
        elif remaining > 0:
            detail = f"resumes for the last {round(remaining)} s of its slot"
            self._on_event(EventKind.RELAY_RESUMED, item, detail)
        tally = tally or Tally(slot_s=length)
        try:
            if remaining > 0:
                self._relay.run(
                    slot.url,
                    remaining,
                    tally,
                    lambda kind, detail: self._on_event(kind, item, detail),
                    fallback=slot.fallback,
                    should_stop=lambda: self._interrupted or self._closing,
                )
        except Exception as exc:  # ffmpeg missing, a sink that cannot start: not the queue's end
            log.exception("playout: the relay failed")
            self._on_event(EventKind.FAILED, item, f"relay failed: {exc}; {tally.summary()}")
            return
        if self._closing:
            detail = f"cut short: the player was shut down; {tally.summary()}"
            self._on_event(EventKind.INTERRUPTED, item, detail)
        elif self._interrupted:
            with self._cv:
                self._suspended = (item, tally)
            detail = f"paused for a broadcast of higher priority; {tally.summary()}"
            self._on_event(EventKind.RELAY_PAUSED, item, detail)
        elif tally.relayed_s > 0:
            self._on_event(EventKind.FINISHED, item, tally.summary())
        else:
            self._on_event(EventKind.FAILED, item, f"no stream: {tally.summary()}")

    def _wait_for(self, at: datetime) -> bool:
        """Until a relay's instant, if it was handed over ahead of it; False if closed."""
        with self._cv:
            while not self._closed:
                left = (at - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    return True
                self._cv.wait(left)
        return False

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
