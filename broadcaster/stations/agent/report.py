"""The agent's reports to the server: the event outbox uploaded, heartbeats, and backing off.

Owns what the agent sends besides asking for its manifest: events in batches (one by
one when a batch is refused, so one bad event cannot block the rest), heartbeats, and
how it behaves when the server is unreachable (back off, play from the cache) or says
429 (nothing more before Retry-After). A mixin of Agent, which provides `client`,
`store`, `audio`, `queue`, `clock`, `sync_interval`, `cache_dir`, `amplifier`, `volumes`,
`handle_commands` (agent.commands) and the state below; the heartbeat also carries the
amplifier, mixer, volume and temperature (agent.amplifier).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import datetime
from typing import Any

from broadcaster import __version__
from broadcaster.stations.agent.amplifier import temperature_c
from broadcaster.stations.agent.client import HttpError
from broadcaster.stations.agent.store import BATCH, iso

log = logging.getLogger("broadcaster.stations.agent")


class Reporting:
    _stop: threading.Event
    _stopping: bool
    _online: bool | None
    _last_sync: datetime | None
    _upload_after: float  # monotonic: no upload before this after a failure
    _upload_backoff: float
    _quiet_until: float  # the server said 429: no request before this (monotonic)

    # -- reporting

    def upload(self) -> None:
        """Send the outbox in batches; each event is marked sent once the server has it."""
        while not self._stop.is_set() or self._stopping:
            if time.monotonic() < max(self._upload_after, self._quiet_until):
                return
            batch = self.store.unsent()
            if not batch:
                return
            try:
                result = self.client.post("/events", {"events": batch})
            except HttpError as exc:
                if exc.status == 429:
                    self._slow_down("events", exc)
                    return
                if exc.status == 401 or exc.status >= 500:
                    self._upload_failed(f"events: {exc}")
                    return
                log.error("events: the server refused a batch (%s); sending one by one", exc)
                if not self._upload_singly(batch):
                    return
                continue
            except (OSError, ValueError) as exc:
                self._upload_failed(f"events: {exc}")
                return
            self.store.mark_sent([e["id"] for e in batch])
            self._upload_backoff = 1.0
            self._online_again()
            log.info(
                "events: uploaded %d (%d new, %d already there)",
                len(batch),
                result.get("accepted", 0),
                result.get("duplicate", 0),
            )
            if len(batch) < BATCH:
                return

    def _upload_singly(self, batch: list[dict[str, Any]]) -> bool:
        for event in batch:
            try:
                self.client.post("/events", {"events": [event]})
            except HttpError as exc:
                if exc.status == 429:
                    self._slow_down("events", exc)
                    return False
                if exc.status == 401 or exc.status >= 500:
                    self._upload_failed(f"events: {exc}")
                    return False
                log.error("events: the server refused event %s for good: %s", event, exc)
                self.store.mark_sent([event["id"]], rejected=True)
                continue
            except (OSError, ValueError) as exc:
                self._upload_failed(f"events: {exc}")
                return False
            self.store.mark_sent([event["id"]])
        return True

    def _upload_failed(self, message: str) -> None:
        self._offline(message)
        self._upload_after = time.monotonic() + self._upload_backoff
        self._upload_backoff = min(self._upload_backoff * 2, max(self.sync_interval, 1.0))

    def heartbeat(self) -> None:
        if self._throttled():
            return
        try:
            free_mb = shutil.disk_usage(self.cache_dir).free // (1024 * 1024)
        except OSError:
            free_mb = None
        body = {
            "version": __version__,
            "free_disk_mb": free_mb,
            "player_state": "idle" if self.queue.idle() else "playing",
            "last_sync": iso(self._last_sync) if self._last_sync else None,
            "cache_files": self.audio.files(),
            **self.hardware(),
            "clock_offset_s": self.clock.offset_s(),
        }
        try:
            answer = self.client.post("/heartbeat", body)
        except HttpError as exc:
            if exc.status == 429:
                self._slow_down("heartbeat", exc)
            else:
                self._offline(f"heartbeat: {exc}")
            return
        except (OSError, ValueError) as exc:
            self._offline(f"heartbeat: {exc}")
            return
        self.store.prune(self.clock())
        self.handle_commands(answer.get("commands"))

    def hardware(self) -> dict[str, Any]:
        """The heartbeat's extras: amplifier, its hook's last failure, mixer, volume, heat."""
        return {
            # "": no hook to switch it; "unknown": not switched since the agent started.
            "amplifier": (self.amplifier.state or "unknown") if self.amplifier.configured else "",
            "amplifier_error": self.amplifier.last_error,
            "mixer": self.volumes.mixer.name,
            "volume_percent": self.volumes.mixer.percent,
            "temperature_c": temperature_c(),
        }

    def _throttled(self) -> bool:
        return time.monotonic() < self._quiet_until and not self._stopping

    def _slow_down(self, what: str, exc: HttpError) -> None:
        """429: send nothing until the server's Retry-After (or one sync interval) is over.

        Plays go on from the cache meanwhile; events wait in the outbox.
        """
        wait = exc.retry_after if exc.retry_after is not None else self.sync_interval
        self._quiet_until = max(self._quiet_until, time.monotonic() + wait)
        log.warning("%s: the server asks to slow down; no request for %.0f s", what, wait)

    def _offline(self, message: str) -> None:
        if self._online is not False:
            log.warning("server unreachable or refusing (%s); playing from the cache", message)
        self._online = False

    def _online_again(self) -> None:
        if self._online is False:
            log.info("server reachable again")
        self._online = True
