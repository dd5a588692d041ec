"""The per-station playout queue: plays due items one at a time, emergencies first.

Used by local playout in the scheduler and by the station agent. Items due together play
back-to-back in priority order, never on top of each other; an emergency interrupts
whatever plays. The players themselves are in onair.players.

Punctual playout: the owners hand an item over LEAD before its time (the agent's timer
and the scheduler's job fire that early, so checks and claims are done by then). The
queue prepares the player at once, tells the owner READY (a durable "about to go on air",
written before any sound), waits for the item's instant on the clock it was given and
releases the player; "started" follows with the lateness measured as the audio left.
The owner's release journal (onair.releases) is told a hair before the release (once
the wait for the instant is over), so that after a crash a READY play that never sounded
can still be played.

A relay (a Cue with `relay`) is the layer underneath: it gets READY and starts at its
instant like any item, and an item of higher priority due during it pauses it just
before that item's instant (PAUSE_AHEAD, time for the item to be prepared); the item
plays and the relay resumes (a new leg of the same occurrence) for what is left of its
slot. A normal item due during a relay waits for the relay to end, and its owner decides
at READY whether it is still within grace.
"""

from __future__ import annotations

import gc
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
from broadcaster.onair.releases import ReleaseJournal

log = logging.getLogger(__name__)

# How long before its time an item reaches its queue. Sized for the slowest step before
# the instant: a scheduler claiming and recording a hundred stations' plays at once on a
# busy machine; the agent's checks take milliseconds.
LEAD = timedelta(seconds=3)
# The owner's last word before the sound: durable, and False cancels (not an EventKind:
# it is never stored or sent as an event of its own).
READY = "ready"
# From this long before an instant until the release, the cyclic garbage collector stays
# off in this process: a full collection with the scheduler's objects takes 100-200 ms on
# a busy machine, and would hold every station's release behind it.
QUIET = timedelta(seconds=1)
# A relay pauses this long before the instant of an item above it (looked at every
# quarter second by the relay), so the item is prepared and released on time.
PAUSE_AHEAD = timedelta(seconds=0.75)


class _NoCollection:
    """Counts the queues near an instant; the collector is off while there is any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = True

    def hold(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1

    def let_go(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._was_enabled:
                gc.enable()

    def held(self) -> bool:
        return self._holders > 0


_no_collection = _NoCollection()


def near_an_instant() -> bool:
    """Whether a queue of this process is in the last QUIET before releasing a play: work
    that can wait (writing what already happened) should, and leave it the processor."""
    return _no_collection.held()


@dataclass(frozen=True)
class RelaySlot:
    """A stream to relay from the cue's `at` for its `duration_s` (the slot ends then,
    however late the relay began), with the cached fallback bulletin to play while the
    stream is down (None: silence)."""

    url: str
    name: str
    fallback: Path | None = None
    kind: str = ""  # mp3, aac, hls as registered ("": told by the URL)
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
    # Set by the queue: READY was recorded; when the audio left the player.
    ready: bool = field(default=False, compare=False)
    released_at: datetime | None = field(default=None, compare=False)
    relay: RelaySlot | None = field(default=None, compare=False)

    @property
    def priority(self) -> int:
        return -self.rank

    def lateness_ms(self) -> float:
        """How long after its time the audio left the player (0 if not released)."""
        if self.released_at is None:
            return 0.0
        return (self.released_at - self.at).total_seconds() * 1000


def _utcnow() -> datetime:
    return datetime.now(UTC)


# (event kind or READY, item, detail); returning False for READY cancels the play.
Callback = Callable[[str, Cue, str], bool | None]


class PlayoutQueue:
    """One thread per station: plays due items one at a time, emergencies first."""

    def __init__(
        self,
        player: Player,
        on_event: Callback,
        name: str = "station",
        clock: Callable[[], datetime] = _utcnow,
        relay: RelayPlayer | None = None,
        journal: ReleaseJournal | None = None,
    ) -> None:
        self._player = player
        self._journal = journal  # told of each release in the instant before it
        self._relay = relay or relay_player_for(player.name)
        self._suspended: tuple[Cue, Tally] | None = None  # a relay paused for a higher item
        self._on_event = on_event
        self._clock = clock  # the owner's (corrected) wall clock: instants are read on it
        self._heap: list[tuple[Cue, int]] = []
        self._counter = itertools.count()
        self._cv = threading.Condition()
        self._current: Cue | None = None
        self._holding: Cue | None = None  # prepared, waiting for its instant
        self._interrupted = False
        self._preempted = False  # an emergency came while the held item waited
        self._quiet = False  # this queue keeps the garbage collector off (near an instant)
        self._closing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"playout-{name}", daemon=True)
        self._thread.start()

    def submit(self, item: Cue) -> None:
        with self._cv:
            heapq.heappush(self._heap, (item, next(self._counter)))
            current, holding = self._current, self._holding
            if item.priority == Priority.EMERGENCY:
                if current is not None and current.priority < Priority.EMERGENCY:
                    self._interrupted = True
                    self._player.stop()
                elif holding is not None and holding.priority < Priority.EMERGENCY:
                    self._preempted = True
            self._cv.notify()

    def idle(self) -> bool:
        with self._cv:
            return (
                self._current is None
                and self._holding is None
                and not self._heap
                and self._suspended is None
            )

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
                if item.relay is not None:
                    self._current = item
                    self._interrupted = False
                else:
                    self._holding = item
                    self._preempted = False
            try:
                if item.relay is not None:
                    self._play_relay(item, resumed[1] if resumed else None)
                elif self._start(item):
                    self._play(item)
            finally:
                with self._cv:
                    self._current = self._holding = None
        if self._suspended is not None:
            item, tally = self._suspended
            detail = f"cut short: the player was shut down; {tally.summary()}"
            self._on_event(EventKind.INTERRUPTED, item, detail)

    # -- the relay layer

    def _resumable(self) -> tuple[Cue, Tally] | None:
        """The paused relay, taken back up unless something above it is still waiting."""
        suspended = self._suspended
        if suspended is None or (self._heap and self._heap[0][0].priority > suspended[0].priority):
            return None
        self._suspended = None
        return suspended

    def _due_over(self, relay: Cue) -> bool:
        """An item above the relay is due within PAUSE_AHEAD: the relay pauses for it."""
        with self._cv:
            if not self._heap:
                return False
            top = self._heap[0][0]
            return top.priority > relay.priority and top.at - self._clock() <= PAUSE_AHEAD

    def _wait_for(self, at: datetime) -> bool:
        """Until a relay's instant (it is handed over LEAD ahead); False if closed."""
        with self._cv:
            while not self._closed:
                left = (at - self._clock()).total_seconds()
                if left <= 0:
                    return True
                self._cv.wait(left)
        return False

    def _play_relay(self, item: Cue, tally: Tally | None) -> None:
        """A relay's leg: the first begins its play, a later one resumes it after an item
        of higher priority. It ends with the seconds relayed, or pauses again."""
        assert item.relay is not None
        slot = item.relay
        # A fast null player (tests, benchmarks) shortens the slot as it does a file.
        length = item.duration_s * getattr(self._player, "time_scale", 1.0)
        ends_at = item.at + timedelta(seconds=length)
        if tally is None and not slot.resumed:
            if not item.ready:
                if self._on_event(READY, item, "") is False:
                    return  # the owner logged why it must not play now
                item.ready = True
            if not self._wait_for(item.at):
                self._on_event(
                    EventKind.INTERRUPTED, item, "not played: playout was shut down before its time"
                )
                return
            self._mark_released(item)  # the stream sounds only after "started"
            item.released_at = self._clock()
            self._on_event(EventKind.STARTED, item, f"relay of {slot.name}")
        remaining = (ends_at - self._clock()).total_seconds()
        if (tally is not None or slot.resumed) and remaining > 0:
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
                    should_stop=lambda: self._closing or self._due_over(item),
                    kind=slot.kind,
                )
        except Exception as exc:  # ffmpeg missing, a sink that cannot start: not the queue's end
            log.exception("playout: the relay failed")
            self._on_event(EventKind.FAILED, item, f"relay failed: {exc}; {tally.summary()}")
            return
        if self._closing:
            detail = f"cut short: the player was shut down; {tally.summary()}"
            self._on_event(EventKind.INTERRUPTED, item, detail)
        elif self._due_over(item) and ends_at > self._clock():
            with self._cv:
                self._suspended = (item, tally)
            detail = f"paused for a broadcast of higher priority; {tally.summary()}"
            self._on_event(EventKind.RELAY_PAUSED, item, detail)
        elif tally.relayed_s > 0:
            self._on_event(EventKind.FINISHED, item, tally.summary())
        else:
            self._on_event(EventKind.FAILED, item, f"no stream: {tally.summary()}")

    # -- files

    def _start(self, item: Cue) -> bool:
        """Prepare, READY, release at the instant; False if it did not go on air (yet)."""
        try:
            self._player.prepare(item.path, item.duration_s)
        except PlayerError as exc:
            self._on_event(EventKind.FAILED, item, str(exc))
            return False
        except Exception as exc:  # a broken player must not kill the station's queue
            log.exception("playout: unexpected error preparing a play")
            self._on_event(EventKind.FAILED, item, f"unexpected: {exc}")
            return False
        if not item.ready and not self._closed:
            if self._on_event(READY, item, "") is False:
                self._player.cancel()
                return False  # the owner logged why it must not play now
            item.ready = True
        try:
            return self._release_at_instant(item)
        finally:
            self._hush(False)

    def _mark_released(self, item: Cue) -> None:
        if self._journal is not None:
            self._journal.mark(item.occurrence_id)

    def _hush(self, on: bool) -> None:
        if on == self._quiet:
            return
        if on:
            _no_collection.hold()
        else:
            _no_collection.let_go()
        self._quiet = on

    def _release_at_instant(self, item: Cue) -> bool:
        with self._cv:
            while True:
                if self._closed:
                    break
                if self._heap and self._heap[0][0] < item:
                    # Something due sooner came while this one waited: it goes back, still
                    # READY, and plays after.
                    heapq.heappush(self._heap, (item, next(self._counter)))
                    self._player.cancel()
                    return False
                if self._preempted:
                    break  # an emergency due after this one: it is cut, as if it had begun
                left = (item.at - self._clock()).total_seconds()
                quiet_in = left - QUIET.total_seconds()
                if quiet_in <= 0:
                    self._hush(True)
                if left <= 0:
                    break
                # A timed wait wakes within a fraction of a millisecond of its time; a spin
                # would hold the interpreter lock from the other stations' queues, due at
                # the same instant in the same process.
                self._cv.wait(left if quiet_in <= 0 else quiet_in)
            closed, preempted = self._closed, self._preempted
            if not closed and not preempted:
                self._current = item
                self._interrupted = False
        if closed or preempted:
            self._player.cancel()
            if preempted:
                self._on_event(EventKind.INTERRUPTED, item, "interrupted by an emergency broadcast")
            elif item.ready:
                self._on_event(
                    EventKind.INTERRUPTED, item, "not played: playout was shut down before its time"
                )
            return False
        # Journaled here, a hair before the instant, not at it: the write gives up the
        # interpreter lock, which stations released at the same instant in one process
        # then wait for. Interrupted after this, the play counts as sounded (the safe side).
        self._mark_released(item)
        # The clock read above said "not yet" only by a hair; a corrected clock may also
        # run a little apart from the one the wait was timed on.
        while (left := (item.at - self._clock()).total_seconds()) > 0 and not self._interrupted:
            time.sleep(left)
        if self._interrupted or self._closing:
            self._player.cancel()
            reason = (
                "not played: playout was shut down before its time"
                if self._closing
                else "interrupted by an emergency broadcast"
            )
            self._on_event(EventKind.INTERRUPTED, item, reason)
            return False
        self._player.release()
        item.released_at = self._clock()
        self._hush(False)
        self._on_event(EventKind.STARTED, item, f"lateness {item.lateness_ms():.1f} ms")
        return True

    def _play(self, item: Cue) -> None:
        try:
            self._player.wait()
            for _ in range(item.repeat - 1):
                if self._interrupted or self._closing:
                    break
                self._player.play(item.path, item.duration_s)
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
