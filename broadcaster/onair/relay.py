"""The relay player: a live stream (HTTP/Icecast MP3 or AAC, HLS) to the station's output.

ffmpeg reads and decodes the stream to raw PCM on a pipe and this module moves the PCM to
the sink (aplay, ffplay, or nowhere for the null sink), so every second that arrives is
seen: a stream that ends, refuses the connection or sends nothing for `stall_s` is a drop.
While the stream is down the fallback bulletin plays, looped, through the same sink (or
nothing plays, and the log says why) and the stream is tried again with capped, jittered
exponential backoff; the first audio back cuts the fallback off. The relay stops when its
slot ends. Used by the playout queue, so stdlib only (the agent runs it).
"""

from __future__ import annotations

import logging
import os
import random
import select
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from broadcaster.core.events import EventKind

log = logging.getLogger(__name__)

RATE = 44100  # mono s16le: what a commune's loudspeakers reproduce, at half stereo's bytes
BYTES_PER_S = RATE * 2
SINKS = ("null", "aplay", "ffplay")
CHUNK = 16384


class Backoff:
    """Delays between reconnection attempts: doubling from `initial` up to `cap`, jittered
    (±`jitter` of the delay) so stations cut off together do not all call back at once."""

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 20.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial, self.cap, self.factor, self.jitter = initial, cap, factor, jitter
        self._rng = rng
        self._next = initial

    def reset(self) -> None:
        self._next = self.initial

    def delay(self) -> float:
        base = self._next
        self._next = min(self.cap, self._next * self.factor)
        return max(0.0, base * (1 + self.jitter * (2 * self._rng() - 1)))


@dataclass
class Tally:
    """What a relay did over its slot, across legs (a priority item may pause it)."""

    slot_s: float
    relayed_s: float = 0.0
    fallback_s: float = 0.0
    drops: int = 0
    legs: int = 0

    def summary(self) -> str:
        text = (
            f"relayed {round(self.relayed_s)} s of {round(self.slot_s)} s, "
            f"{self.drops} drop{'' if self.drops == 1 else 's'}"
        )
        if self.fallback_s >= 1:
            text += f", fallback {round(self.fallback_s)} s"
        return text


# (event kind, detail): the relay reports what happens as it happens.
Report = Callable[[str, str], object]


def _sink_command(sink: str) -> list[str] | None:
    raw = ["-f", "s16le", "-ar", str(RATE), "-ac", "1"]
    if sink == "aplay":
        return ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(RATE), "-c", "1", "-"]
    if sink == "ffplay":
        return ["ffplay", "-nodisp", "-loglevel", "error", *raw, "-i", "-"]
    return None


# A live MP3 or AAC stream whose format ffmpeg must guess takes it five seconds of audio
# to decide; named (by the stream's registered kind, or its URL), the first audio comes
# within half a second.
FORMATS = {".mp3": "mp3", ".aac": "aac", ".m3u8": "hls"}
KINDS = {"mp3": "mp3", "aac": "aac", "hls": "hls"}  # StreamSource.kind -> ffmpeg's -f


def input_format(url: str, kind: str = "") -> str | None:
    """The ffmpeg input format: the stream's registered kind (the check found it), else
    what its URL's extension names, else None (ffmpeg guesses)."""
    if kind in KINDS:
        return KINDS[kind]
    path = urllib.parse.urlsplit(url).path.lower()
    return next((fmt for ext, fmt in FORMATS.items() if path.endswith(ext)), None)


def _decoder(source: str, *, rw_timeout_s: float, loop: bool = False, kind: str = "") -> list[str]:
    """ffmpeg decoding `source` (a URL, or a file looped in real time) to PCM on stdout."""
    head = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]
    if loop:
        # -re: a file decodes faster than real time; paced, it lasts as long as it sounds.
        head += ["-re", "-stream_loop", "-1"]
    else:
        head += ["-rw_timeout", str(int(rw_timeout_s * 1_000_000))]
        fmt = input_format(source, kind)
        if fmt:
            head += ["-f", fmt]
    return [*head, "-i", source, "-vn", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "pipe:1"]


class _Decoder:
    """One ffmpeg process and what has come out of it."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self.fd = self.process.stdout.fileno()
        self.started = time.monotonic()
        self.bytes = 0
        self.last_data = self.started

    def read(self) -> bytes:
        data = os.read(self.fd, CHUNK)
        if data:
            self.bytes += len(data)
            self.last_data = time.monotonic()
        return data

    def why_it_ended(self) -> str:
        """ffmpeg's last error line, or that the stream simply ended."""
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        assert self.process.stderr is not None
        lines = self.process.stderr.read().decode(errors="replace").strip().splitlines()
        if lines:
            return lines[-1][:200]
        return "the stream ended" if self.process.returncode == 0 else "ffmpeg stopped"

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
        self.process.wait()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


class RelayPlayer:
    """Relays one stream for a number of seconds (blocking); stop() wakes it to look at
    `should_stop` at once."""

    def __init__(
        self,
        sink: str = "null",
        *,
        stall_s: float = 5.0,
        connect_timeout_s: float = 10.0,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        if sink not in SINKS:
            raise ValueError(f"unknown relay sink {sink!r}; choose {', '.join(SINKS)}")
        self.sink = sink
        self.stall_s = stall_s
        self.connect_timeout_s = connect_timeout_s
        self._backoff = backoff
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    def stop(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # already woken

    def run(
        self,
        url: str,
        seconds: float,
        tally: Tally,
        report: Report,
        *,
        fallback: Path | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        kind: str = "",
    ) -> Tally:
        """Relay `url` (of `kind`: mp3, aac, hls, or "" to tell by the URL) for `seconds`
        into the sink, reporting connects, drops, fallback."""
        leg = _Leg(self, url, tally, report, fallback, should_stop)
        leg.kind = kind
        tally.legs += 1
        try:
            leg.run(time.monotonic() + seconds)
        finally:
            leg.close()
        return tally


class _Leg:
    """One uninterrupted stretch of a relay: its processes and whether the stream is up."""

    def __init__(self, player, url, tally, report, fallback, should_stop) -> None:
        self.p: RelayPlayer = player
        self.url = url
        self.kind = ""
        self.tally: Tally = tally
        self.report: Report = report
        self.fallback: Path | None = fallback
        self.should_stop: Callable[[], bool] = should_stop
        self.backoff = player._backoff()
        self.source: _Decoder | None = None
        self.filler: _Decoder | None = None
        self.up_since: float | None = None
        self.down_since: float | None = None
        self.attempts = 0
        self.retry_at = 0.0
        self.fallback_from: float | None = None
        self.ever_up = False
        command = _sink_command(player.sink)
        self.sink = (
            subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            if command
            else None
        )

    def run(self, deadline: float) -> None:
        self._connect()
        while not self.should_stop():
            now = time.monotonic()
            if now >= deadline:
                break
            fds = [self.p._wake_r]
            fds += [d.fd for d in (self.source, self.filler) if d is not None]
            timeout = min(deadline - now, 0.25)
            if self.source is None:
                timeout = min(timeout, max(0.0, self.retry_at - now))
            ready, _, _ = select.select(fds, [], [], timeout)
            if self.p._wake_r in ready:
                os.read(self.p._wake_r, 64)
            if self.source is not None and self.source.fd in ready:
                data = self.source.read()
                if data:
                    if self.up_since is None:
                        self._up()
                    self._play(data)
                else:
                    self._down(self.source.why_it_ended())
            if self.filler is not None and self.filler.fd in ready:
                data = self.filler.read()
                if data:
                    self._play(data)
                else:  # a looped file should not end; it failed
                    log.warning("relay: the fallback stopped: %s", self.filler.why_it_ended())
                    self._stop_filler()
            self._watch(time.monotonic())

    def _watch(self, now: float) -> None:
        source = self.source
        if source is not None:
            if self.up_since is not None and now - source.last_data > self.p.stall_s:
                self._down(f"no audio for {self.p.stall_s:g} s")
            elif self.up_since is None and now - source.started > self.p.connect_timeout_s:
                self._down(f"no audio within {self.p.connect_timeout_s:g} s of connecting")
        elif now >= self.retry_at:
            self._connect()

    def _connect(self) -> None:
        self.attempts += 1
        self.source = _Decoder(_decoder(self.url, rw_timeout_s=self.p.stall_s, kind=self.kind))

    def _up(self) -> None:
        now = time.monotonic()
        self.up_since = now
        self.backoff.reset()
        self._stop_filler()
        if self.down_since is None:
            self.report(EventKind.RELAY_CONNECTED, f"connected to {self.url}")
        else:
            self.report(
                EventKind.RELAY_RESTORED,
                f"the stream is back after {round(now - self.down_since)} s "
                f"({self.attempts} attempt{'' if self.attempts == 1 else 's'})",
            )
        self.ever_up = True
        self.down_since = None
        self.attempts = 0

    def _down(self, why: str) -> None:
        """The stream dropped (or did not come): count what it gave, fill in, retry later."""
        assert self.source is not None
        source, self.source = self.source, None
        source.kill()
        now = time.monotonic()
        delay = self.backoff.delay()
        self.retry_at = now + delay
        if self.up_since is not None:
            self._count(source, now)
            self.up_since = None
        if self.down_since is not None:  # still down: one more failed attempt, logged only
            log.info("relay: attempt %d failed (%s); next in %.1f s", self.attempts, why, delay)
            return
        self.down_since = now
        self.tally.drops += 1 if self.ever_up else 0
        prefix = "the stream dropped" if self.ever_up else "the stream did not answer"
        self.report(EventKind.RELAY_DROPPED, f"{prefix}: {why}; retrying")
        self._start_filler()

    def _count(self, source: _Decoder, now: float) -> None:
        # A server bursts its buffer on connect: what is heard cannot exceed the time it took.
        assert self.up_since is not None
        self.tally.relayed_s += min(source.bytes / BYTES_PER_S, now - self.up_since)

    def _start_filler(self) -> None:
        if self.fallback is None:
            self.report(EventKind.RELAY_FALLBACK, "silence: no fallback bulletin for this relay")
            return
        if not self.fallback.is_file():
            self.report(
                EventKind.RELAY_FALLBACK,
                f"silence: the fallback bulletin is not in the cache ({self.fallback.name})",
            )
            return
        self.filler = _Decoder(_decoder(str(self.fallback), rw_timeout_s=0, loop=True))
        self.fallback_from = time.monotonic()
        self.report(
            EventKind.RELAY_FALLBACK, "playing the fallback bulletin until the stream is back"
        )

    def _stop_filler(self) -> None:
        if self.filler is not None:
            self.filler.kill()
            self.filler = None
        if self.fallback_from is not None:
            self.tally.fallback_s += time.monotonic() - self.fallback_from
            self.fallback_from = None

    def _play(self, data: bytes) -> None:
        if self.sink is None or self.sink.stdin is None:
            return
        try:
            self.sink.stdin.write(data)
            self.sink.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            log.error("relay: the %s sink stopped: %s", self.p.sink, exc)
            self.sink = None

    def close(self) -> None:
        if self.source is not None:
            if self.up_since is not None:
                self._count(self.source, time.monotonic())
            self.source.kill()
        self._stop_filler()
        if self.sink is not None:
            try:
                os.killpg(self.sink.pid, 15)
            except ProcessLookupError:
                pass
            if self.sink.stdin is not None:
                try:
                    self.sink.stdin.close()
                except OSError:
                    pass
            self.sink.wait()


def relay_player_for(player_name: str) -> RelayPlayer:
    """The relay that sounds where the station's file player does (null for null)."""
    return RelayPlayer(player_name if player_name in SINKS else "null")
