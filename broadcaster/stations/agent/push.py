"""The agent's held connection: told within a second of a change, polling the fallback.

A thread keeps one request to GET /api/v1/push open (a long poll: the server answers
when this station's manifest or commands change, 204 when its hold is over, and the
thread asks again at once). When it answers with topics the agent syncs immediately.
When the request cannot be held (connection refused or cut, a server without push,
401, 503 from a full server) the agent goes on polling at its sync interval and this
thread tries again after a jittered, exponentially growing wait: "full jitter", a
uniform draw in [0, min(cap, base * 2^n)], with n at least 3 when a held connection
drops (every agent behind that server lost its own at the same moment), so 500 agents
cut off by one server restart come back spread over seconds instead of together. Stdlib only.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from broadcaster.stations.agent.client import Client, HttpError

log = logging.getLogger("broadcaster.stations.agent")

HOLD_S = 75.0  # above the server's hold (50 s) and nginx's: a silent connection is dead
BASE_S = 0.5
# A held connection that drops was most likely cut with every other one (a server or
# proxy restart): the first retry is already spread over 0.5 s x 2^3 = 4 s.
DROPPED_FAILURES = 3
CAP_S = 120.0
REFUSED_CAP_S = 600.0  # a server without push, or refusing this token: ask rarely
SYNC_WAIT_S = 15.0  # the agent's HTTP timeout: its sync has ended by then
_NOTHING = object()


class PushListener:
    """Calls on_topics(topics) whenever the server says something changed."""

    def __init__(
        self,
        client: Client,
        *,
        etag: Callable[[], str | None],
        on_topics: Callable[[set[str]], None],
        quiet_s: Callable[[], float] = lambda: 0.0,
        on_slow_down: Callable[[HttpError], None] = lambda exc: None,
        rng: random.Random | None = None,
        base_s: float = BASE_S,
        cap_s: float = CAP_S,
    ) -> None:
        self.client = client
        self._etag = etag
        self._on_topics = on_topics
        self._quiet_s = quiet_s  # the agent's: while the server rations it, no request
        self._on_slow_down = on_slow_down
        self._rng = rng or random.Random()
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self.connected = False  # the last request was held or answered by the server
        self._unsynced: object = _NOTHING  # an ETag the server already said was stale
        self._synced = threading.Event()
        self._sync_ok = False
        # The server's X-Push-Cursor: which changes the agent has heard of (and synced
        # after), so the server need not compare manifests to know it missed nothing.
        self._cursor: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-push", daemon=True)

    def start(self) -> None:
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # a held request ends with the process (daemon thread)
        self._synced.set()

    @property
    def cursor(self) -> str | None:
        """The last answer's cursor: which changes the server had read when it answered."""
        return self._cursor

    def synced(self, ok: bool = True) -> None:
        """The agent has asked for its manifest (the next push holds with its ETag);
        `ok`: and has it as it is now."""
        self._sync_ok = ok
        self._synced.set()

    def backoff(self, *, refused: bool = False) -> float:
        """The next wait: full jitter over an exponentially growing window."""
        cap = REFUSED_CAP_S if refused else self.cap_s
        window = min(cap, self.base_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return self._rng.uniform(0, window)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.once()
            if wait:
                self._stop.wait(wait)

    def once(self) -> float:
        """One held request; returns how long to wait before the next (0: at once)."""
        quiet = self._quiet_s()
        if quiet > 0:
            return quiet + self._rng.uniform(0, self.base_s)
        etag = self._etag()
        try:
            topics, cursor = self.client.push(etag, HOLD_S, self._cursor)
        except HttpError as exc:
            self.connected = False
            if exc.status == 429:
                self._on_slow_down(exc)  # the agent's other requests wait too
                return max(self._quiet_s(), exc.retry_after or 0.0) + self._rng.uniform(
                    0, self.base_s
                )
            refused = exc.status in (401, 403, 404, 405, 501)
            wait = max(self.backoff(refused=refused), exc.retry_after or 0.0)
            log.warning("push: refused (%s); polling meanwhile, again in %.1f s", exc, wait)
            return wait
        except (OSError, ValueError) as exc:
            if self.connected:
                self.failures = max(self.failures, DROPPED_FAILURES)
            self.connected = False
            wait = self.backoff()
            log.info("push: connection lost (%s); polling meanwhile, again in %.1f s", exc, wait)
            return wait
        if not self.connected:
            log.info("push: connected")
        self.connected = True
        self.failures = 0
        self._cursor = cursor if cursor and cursor.isdigit() else None
        if not topics:
            return 0.0
        log.info("push: the server says %s changed", ", ".join(sorted(topics)))
        self._synced.clear()
        self._sync_ok = False
        self._on_topics(topics)
        if "manifest" in topics:
            # Asked again before the sync, with the old ETag, it would be told again.
            self._synced.wait(SYNC_WAIT_S)
            if not self._sync_ok:
                self._cursor = None  # not synced: let the server compare the ETag instead
        # Told twice that the same manifest is stale: the sync it asked for did not happen
        # (the server unreachable for it, or rationing): no loop of instant answers.
        again = "manifest" in topics and etag == self._unsynced
        self._unsynced = etag if "manifest" in topics else _NOTHING
        return self.backoff() if again else 0.0
