"""The agent's clock set by the server's: offset measured on every contact, NTP-style.

Each station API answer carries the server's time as it left (X-Server-Time) and as its
request arrived (X-Server-Received). As NTP does, the server's own work between the two
is taken out of the round trip and the rest split evenly: that gives the server time
against this box's monotonic clock, to within half the network's part of the round trip
(an answer without the arrival stamp counts as all network); of the last SAMPLES
contacts the one with the shortest round trip is believed, unless a newer one disagrees
with it by more than both round trips allow (a clock was stepped: start again). The
corrected time is then that monotonic clock plus the offset, so a box whose wall clock is
wrong, or set by NTP half-way through a day, still plays at the server's instant. Until
a first contact it is the wall clock plus the offset last measured (kept in agent.db by
the runner). Stdlib only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger("broadcaster.stations.agent")

SAMPLES = 8
MAX_RTT_S = 5.0  # an answer slower than this says too little about when it was sent
STEP_MARGIN_S = 0.05
WARN_S = 1.0  # an offset above this is worth a line in the log (and the station page)


class ServerClock:
    """A clock function (returns aware UTC datetimes) following the server's time."""

    def __init__(
        self,
        base: Callable[[], datetime],
        *,
        offset_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base  # this box's wall clock (a test shifts it)
        self._monotonic = monotonic
        self._fallback_s = offset_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=SAMPLES)  # (rtt, mono->server)
        self._lock = threading.Lock()
        self._best: float | None = None  # server epoch seconds minus monotonic seconds
        self._warned = False

    def __call__(self) -> datetime:
        best = self._best
        if best is None:
            return self.base() + timedelta(seconds=self._fallback_s)
        return datetime.fromtimestamp(self._monotonic() + best, UTC)

    def started(self) -> float:
        """Call when a request is sent; pass the result to observe()."""
        return self._monotonic()

    def observe(self, sent: float, header: str | None, arrived: str | None = None) -> None:
        """Server time headers read now for a request sent at `sent` (monotonic): when
        the answer left and, if given, when the request arrived (epoch seconds)."""
        if not header:
            return
        try:
            left = float(header)
            came = float(arrived) if arrived else left
        except ValueError:
            return
        received = self._monotonic()
        work = left - came  # the server's own part of the round trip
        if not 0 <= work <= received - sent:
            work, came = 0.0, left  # stamps that contradict each other: the old way
        rtt = received - sent - work
        if not 0 <= rtt <= MAX_RTT_S or left != left:
            return
        # ((arrived - sent) + (left - received)) / 2, the NTP offset
        sample = (rtt, (came - sent + left - received) / 2)
        with self._lock:
            if self._samples:
                best = min(self._samples)
                # Further apart than both round trips allow: a clock was stepped (the
                # server's by NTP, say). The older samples describe a time that is gone.
                if abs(sample[1] - best[1]) > (sample[0] + best[0]) / 2 + STEP_MARGIN_S:
                    self._samples.clear()
            self._samples.append(sample)
            self._best = min(self._samples)[1]
        offset = self.offset_s()
        if offset is not None and abs(offset) > WARN_S and not self._warned:
            log.warning(
                "clock: this machine's clock is %.1f s %s the server's; playing by the server's",
                abs(offset),
                "ahead of" if offset < 0 else "behind",
            )
        self._warned = offset is not None and abs(offset) > WARN_S

    def offset_s(self) -> float | None:
        """Server time minus this box's wall clock, seconds; None before any contact."""
        if self._best is None:
            return None
        return (self() - self.base()).total_seconds()
