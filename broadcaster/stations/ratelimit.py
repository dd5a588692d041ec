"""Rate limits for the station API: token buckets in this process's memory.

A second line of defence behind nginx's `limit_req` (deploy/nginx/ratelimit.conf): each
gunicorn worker keeps its own buckets, so with W workers a client may get up to W times
the configured rate before nginx or this limiter says 429. That is the intent: this limit
stops a runaway agent or a stolen token from hogging a worker and token guessing from
costing database lookups, without a shared store on the hot path of the manifest.

Policy (StationLimiter):
- a token that has worked before (in this process) spends from its own bucket;
- anything else (no token, unknown, revoked) is checked against its address's failure
  bucket, which each 401 spends: an address that keeps presenting bad tokens is refused
  before its token is even looked up, while stations with good tokens behind the same
  address go on.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple


class TokenBuckets:
    """One bucket per key: `burst` tokens, refilled at `rate` tokens per second."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 200_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[object, list[float]] = {}  # key -> [tokens, last refill]
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: dropping it changes nothing.
        full = [
            key
            for key, (level, at) in self._buckets.items()
            if level + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:  # all busy: forget the least recently seen
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]

    def take(self, key: object) -> float:
        """Spend one token: 0.0 if there was one, else the seconds until there will be."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._prune(now)
                bucket = self._buckets[key] = [self.burst, now]
            else:
                level = bucket[0] + (now - bucket[1]) * self.rate
                bucket[0] = level if level < self.burst else self.burst
                bucket[1] = now
            if bucket[0] >= 1.0:
                bucket[0] -= 1.0
                return 0.0
            return (1.0 - bucket[0]) / self.rate

    def wait(self, key: object) -> float:
        """The seconds until `key` has a token (0.0 now), spending nothing."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            level = min(self.burst, bucket[0] + (self._clock() - bucket[1]) * self.rate)
            return 0.0 if level >= 1.0 else (1.0 - level) / self.rate

    def forget(self, key: object) -> None:
        with self._lock:
            self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(seconds: float) -> int:
    """A Retry-After value: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))


class Verdict(NamedTuple):
    """What the limiter decided before a request; settle() needs it afterwards."""

    key: int | None  # keyed hash of the token, if one was presented
    address: str
    known: bool  # the token had worked before in this process
    wait: float  # 0.0: go ahead; else refuse with 429 and Retry-After


class StationLimiter:
    """Per-token limits for stations, per-address limits for bad or missing tokens."""

    def __init__(
        self,
        *,
        per_minute: int,
        burst: int,
        failures_per_minute: int,
        failure_burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = TokenBuckets(per_minute / 60.0, burst, clock=clock)
        self.failures = TokenBuckets(failures_per_minute / 60.0, failure_burst, clock=clock)
        self._known: set[int] = set()

    def check(self, token: str | None, address: str) -> Verdict:
        # Python's hash (SipHash, keyed afresh in each process), not the token: no usable
        # token stays in memory, and it costs far less than a sha256 per request.
        key = hash(token) if token else None
        if key is not None and key in self._known:
            return Verdict(key, address, True, self.tokens.take(key))
        return Verdict(key, address, False, self.failures.wait(address))

    def settle(self, verdict: Verdict, *, authenticated: bool, refused: bool) -> None:
        """Learn from the answer: a refused token spends its address's failures, a token
        that authenticated is admitted to its own bucket."""
        if refused:
            self.failures.take(verdict.address)
            if verdict.known:  # revoked or rotated since: back to the address's limits
                self._known.discard(verdict.key)
                self.tokens.forget(verdict.key)
        elif authenticated and verdict.key is not None and not verdict.known:
            self._known.add(verdict.key)
            self.tokens.take(verdict.key)  # this request counts
