"""What the agent plans to play: the manifest's items, its grace window, and the timer.

Owns reading a manifest document (items it cannot read are logged and skipped, never
fatal) and the one timer thread that fires each item at its time. Stdlib only.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("broadcaster.stations.agent")

# Only for a manifest without grace_s (a server older than that field): the manifest says
# how late a play may start. The same as broadcaster.onair.occurrences.GRACE (a test
# holds them equal).
GRACE = timedelta(minutes=10)
PRIORITIES = {"normal": 0, "priority": 1, "emergency": 2}


@dataclass(frozen=True)
class FallbackAudio:
    """What a relay plays while its stream is down: an approved bulletin, cached like any."""

    sha256: str
    size: int
    duration_s: float
    audio_url: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FallbackAudio:
        return cls(
            sha256=_sha256(data["sha256"]),
            size=int(data["size"]),
            duration_s=float(data["duration_s"]),
            audio_url=str(data["audio_url"]),
        )


@dataclass(frozen=True)
class ManifestItem:
    """One manifest item, as the agent needs it.

    kind "audio": a file. kind "relay": the stream at stream_url for duration_s (the slot),
    with `fallback` audio or None (silence). sha256, size and audio_url are always the
    audio to keep in the cache: the file's, a relay's fallback's, or empty ("" and 0) for
    a relay without one.
    """

    occurrence_id: int
    at: datetime
    priority: int
    schedule_id: int
    title: str
    sha256: str
    size: int
    duration_s: float
    repeat: int
    audio_url: str
    order: int = 0  # colliding priority items: lower first (broadcaster.onair.collision)
    kind: str = "audio"
    stream_id: int = 0
    stream_name: str = ""
    stream_url: str = ""
    stream_kind: str = ""  # mp3, aac, hls ("" from an older server: told by the URL)
    fallback: FallbackAudio | None = None

    @property
    def ends_at(self) -> datetime:
        """When its slot is over (a relay's; a file's, for one play of it)."""
        return self.at + timedelta(seconds=self.duration_s)

    @property
    def is_relay(self) -> bool:
        return self.kind == "relay"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestItem:
        at = datetime.fromisoformat(data["at"])
        if at.tzinfo is None:
            raise ValueError("time without an offset")
        common: dict[str, Any] = {
            "occurrence_id": int(data["occurrence_id"]),
            "at": at.astimezone(UTC),
            "priority": PRIORITIES.get(data.get("priority", "normal"), 0),
            "schedule_id": int(data.get("schedule_id", 0)),
            "title": str(data.get("title", "")),
            "order": max(0, int(data.get("order", 0))),
        }
        kind = data.get("kind", "audio")
        if kind == "relay":
            return cls._relay(data, common)
        if kind != "audio":
            raise ValueError(f"unknown kind {kind!r}")
        return cls(
            **common,
            sha256=_sha256(data["sha256"]),
            size=int(data["size"]),
            duration_s=float(data["duration_s"]),
            repeat=max(1, int(data.get("repeat", 1))),
            audio_url=str(data["audio_url"]),
        )

    @classmethod
    def _relay(cls, data: dict[str, Any], common: dict[str, Any]) -> ManifestItem:
        stream = data["stream"]
        url = str(stream["url"])
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"stream URL is not http(s): {url!r}")
        duration_s = float(data["duration_s"])
        if not duration_s > 0:
            raise ValueError("a relay needs a positive duration_s")
        raw = data.get("fallback")
        fallback = FallbackAudio.from_json(raw) if raw is not None else None
        return cls(
            **common,
            sha256=fallback.sha256 if fallback else "",
            size=fallback.size if fallback else 0,
            duration_s=duration_s,
            repeat=1,
            audio_url=fallback.audio_url if fallback else "",
            kind="relay",
            stream_id=int(stream.get("id", 0)),
            stream_name=str(stream.get("name", "")),
            stream_url=url,
            stream_kind=str(stream.get("kind", "")),
            fallback=fallback,
        )


def _sha256(value: Any) -> str:
    sha256 = str(value)
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("bad sha256")
    return sha256


def parse_manifest(document: dict[str, Any]) -> dict[int, ManifestItem]:
    plays = {}
    for raw in document.get("items", []):
        try:
            play = ManifestItem.from_json(raw)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("manifest: ignoring an item I cannot read (%s): %r", exc, raw)
            continue
        plays[play.occurrence_id] = play
    return plays


def manifest_grace(document: dict[str, Any]) -> timedelta:
    """How late a play may still start, as the manifest says; GRACE if it does not say."""
    value = document.get("grace_s")
    if value is None:
        return GRACE
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        log.error("manifest: ignoring a grace_s I cannot read: %r", value)
        return GRACE
    return timedelta(seconds=value)


class Timer:
    """Calls fire(key) `lead` before each key's time; one thread, wall clock re-read each
    second (a clock set by NTP after boot is followed)."""

    def __init__(
        self,
        fire: Callable[[int], None],
        clock: Callable[[], datetime],
        lead: timedelta = timedelta(0),
    ) -> None:
        self._fire = fire
        self._clock = clock
        self.lead = lead
        self._when: dict[int, tuple[datetime, int]] = {}
        self._heap: list[tuple[datetime, int, int]] = []
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="agent-timer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set(self, key: int, when: datetime, rank: int = 0) -> None:
        with self._cv:
            if self._when.get(key) == (when, rank):
                return
            self._when[key] = (when, rank)
            heapq.heappush(self._heap, (when, rank, key))
            self._cv.notify()

    def cancel(self, key: int) -> None:
        with self._cv:
            self._when.pop(key, None)

    def keys(self) -> set[int]:
        with self._cv:
            return set(self._when)

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            due = []
            with self._cv:
                if self._stopped:
                    return
                now = self._clock() + self.lead
                while self._heap and self._heap[0][0] <= now:
                    when, rank, key = heapq.heappop(self._heap)
                    if self._when.get(key) == (when, rank):  # not cancelled or moved
                        del self._when[key]
                        due.append(key)
                if not due:
                    wait = 1.0
                    if self._heap:
                        wait = min(wait, max(0.0, (self._heap[0][0] - now).total_seconds()))
                    self._cv.wait(wait)
                    continue
            for key in due:
                try:
                    self._fire(key)
                except Exception:  # one broken play must not stop the others
                    log.exception("timer: play %s failed to start", key)
