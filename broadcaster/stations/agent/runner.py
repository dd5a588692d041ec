"""The agent's loop and command line: pulls the manifest and audio, plays on time, reports.

    python -m broadcaster.stations.agent --server URL --token TOKEN --cache DIR \
        [--player ffplay|aplay|null]

Small on purpose (no Flask, no SQLAlchemy; stdlib sqlite3 and urllib): it runs on the
commune's own box next to the amplifier.

- Every --sync-interval seconds it asks for the manifest (If-None-Match, so an unchanged
  manifest costs a 304) and keeps the last one on disk (agent.db in the cache folder).
- Between those it holds one push request (push.py, unless --no-push): told that the
  manifest changed, it asks for it at once, so a "phát ngay" arrives within a second.
- Plays, events and the grace window go by the server's clock (clock.py: the offset is
  measured on every answer and reported in the heartbeat), not by this box's own.
- Audio is downloaded ahead into the cache: to a .part file, resumed with a Range request
  after an interruption, checked against its sha256, then moved into place durably. A cached file is
  checked again before each sync and before it plays; a corrupt one is deleted and
  fetched again.
- A timer thread fires each play at its time (re-reading the wall clock at least every
  second, so a clock set by NTP after boot is followed) and hands it to a PlayoutQueue,
  which plays items one at a time, emergencies first. It plays from the cache whether or
  not the server can be reached.
- Every event goes to a local outbox (SQLite) first and is uploaded in batches when the
  server can be reached; the server stores each event id once, so a retry is harmless.
- The played set lives in the same SQLite file, written before the audio starts: after a
  restart nothing is played twice, and the cached manifest says what is still to play.
- A play later than the manifest's grace_s (10 min today) is not played but reported
  "skipped" with why.

The parts beside this module: plan (manifest items, grace, the timer), store (agent.db),
client (the API client, Retry-After, the audio cache), report (uploads, heartbeats,
backing off), amplifier (the amplifier hook, volume per priority, the machine) and
commands (the province's commands, acted on once). This module is the loop that ties
them together and the command line; it runs on stdlib, broadcaster.onair.playout, players
and broadcaster.core's fsutil and events only (a test checks that no Flask, SQLAlchemy or
pydantic comes in). Somewhat over 400 lines: the Agent's loop and the state its threads
share are one piece (the amplifier and the commands hook into its play events).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from broadcaster import __version__
from broadcaster.core.events import ON_AIR_KINDS, EventKind
from broadcaster.onair.players import PLAYERS, NullPlayer, Player, make_player
from broadcaster.onair.playout import LEAD, READY, Cue, PlayoutQueue, RelaySlot
from broadcaster.onair.releases import ReleaseJournal
from broadcaster.stations.agent.amplifier import Hardware, add_hardware_options, hardware_of
from broadcaster.stations.agent.client import AudioCache, Client, HttpError
from broadcaster.stations.agent.clock import ServerClock
from broadcaster.stations.agent.commands import Commands
from broadcaster.stations.agent.plan import (
    GRACE,
    ManifestItem,
    Timer,
    manifest_grace,
    parse_manifest,
)
from broadcaster.stations.agent.push import PushListener
from broadcaster.stations.agent.report import Reporting
from broadcaster.stations.agent.store import LocalStore, utcnow

log = logging.getLogger("broadcaster.stations.agent")

TIME_SCALE_ENV = "BROADCASTER_AGENT_TIME_SCALE"  # null player only: tests play fast
TOKEN_ENV = "BROADCASTER_AGENT_TOKEN"
RETRY_AUDIO_S = 5.0
RESTARTED = "the agent stopped during the relay; it resumes for the rest of its slot"


# --- the agent -------------------------------------------------------------------------


class Agent(Reporting, Commands):
    """The loop: sync the manifest, fetch audio, fire plays, report (see report)."""

    def __init__(
        self,
        *,
        server: str,
        token: str,
        cache_dir: Path,
        player: Player,
        sync_interval: float = 60.0,
        heartbeat_interval: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
        hardware: Hardware | None = None,
        push: bool = True,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.store = LocalStore(self.cache_dir / "agent.db")
        # Plays, events and grace go by the server's time: `clock` is this box's own.
        self.clock = ServerClock(clock, offset_s=float(self.store.get("clock_offset") or 0))
        self.client = Client(server, token, clock=self.clock)
        self.audio = AudioCache(self.cache_dir / "audio", self.client)
        self.sync_interval = sync_interval
        self.heartbeat_interval = heartbeat_interval
        self._sync_now = threading.Event()  # push said the manifest changed
        # What a push topic sets off (called on the push thread: hand work to the loop).
        # "commands" is for the province's commands to the station.
        self.push_handlers: dict[str, Callable[[], None]] = {"manifest": self._sync_soon}
        self.push = (
            PushListener(
                self.client,
                etag=lambda: self.store.get("etag"),
                on_topics=self._pushed,
                quiet_s=lambda: self._quiet_until - time.monotonic(),
                on_slow_down=lambda exc: self._slow_down("push", exc),
            )
            if push
            else None
        )
        self.plays: dict[int, ManifestItem] = {}
        self.grace = GRACE  # until a manifest says otherwise
        self._plays_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._stopping = False
        self._need_audio = threading.Event()
        self._submitted: set[int] = set()  # handed to the queue by this process
        self._relays: dict[int, ManifestItem] = {}  # on air without their fallback cached
        self._resume: set[int] = set()  # relays on air when the agent stopped, slot still on
        self._online: bool | None = None
        self._last_sync: datetime | None = None
        self._upload_after = 0.0
        self._upload_backoff = 1.0
        self._quiet_until = 0.0  # the server said 429: no request before this (monotonic)
        # The queue and the timer go by the server's time, as plays and events do.
        self.journal = ReleaseJournal(self.cache_dir / "released.log")
        self.queue = PlayoutQueue(
            player, self._on_event, name="agent", clock=self.clock, journal=self.journal
        )
        # Fired LEAD early: the cache check and the hand-over are done before the instant;
        # the queue releases the play at it.
        self.timer = Timer(self._fire, self.clock, lead=LEAD)
        self.exit_code = 0
        self._results_waiting = True  # results a previous run could not report
        self._commands_now = threading.Event()  # push said commands wait
        self.push_handlers["commands"] = self._commands_soon
        self.amplifier, self.volumes = (hardware or Hardware()).build(
            upcoming=self._next_play_at,
            busy=lambda: not self.queue.idle(),
            clock=self.clock,
            saved_volume=self.store.get("volume_normal"),  # the province's last one
        )

    # -- lifecycle

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _pushed(self, topics: set[str]) -> None:
        for topic in sorted(topics):
            handler = self.push_handlers.get(topic)
            if handler is None:
                log.debug("push: nothing here listens to %r", topic)
            else:
                handler()

    def _sync_soon(self) -> None:
        self._sync_now.set()
        self._wake.set()

    def _commands_soon(self) -> None:
        self._commands_now.set()
        self._wake.set()

    def run(self) -> None:
        log.info("agent %s: server %s, cache %s", __version__, self.client.base, self.cache_dir)
        self._recover()
        self.recover_commands()
        cached = self.store.get("manifest")
        if cached:
            self._apply_manifest(json.loads(cached), source="cache")
        self.timer.start()
        self.amplifier.start()
        next_sync = next_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                pushed = self._sync_now.is_set()
                if not pushed:
                    # Reports first: when the server rations requests (429), what it lacks
                    # is what was played; the manifest it already sent is cached.
                    self.upload()
                self.report_commands()
                if self._commands_now.is_set():
                    self._commands_now.clear()
                    self.fetch_commands()
                now = time.monotonic()
                if now >= next_sync or pushed:
                    self._sync_now.clear()
                    self.sync(fresh=pushed)
                    next_sync = time.monotonic() + self.sync_interval
                    if self.push is not None:
                        self.push.start()  # after the first sync: it holds with its ETag
                elif self._need_audio.is_set():
                    self._need_audio.clear()
                    self._ensure_audio()
                if self._stop.is_set():
                    break
                if time.monotonic() >= next_beat:
                    self.heartbeat()
                    next_beat = time.monotonic() + self.heartbeat_interval
                deadline = min(next_sync, next_beat)
                if self.store.pending():
                    deadline = min(deadline, max(self._upload_after, self._quiet_until))
                self._wake.wait(max(0.05, deadline - time.monotonic()))
                self._wake.clear()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        log.info("agent: stopping")
        self._stopping = True
        if self.push is not None:
            self.push.stop()
        self.timer.stop()
        self.queue.close()  # cuts a play short; it is reported as interrupted
        self.amplifier.stop()
        if self.store.pending():
            self._upload_after = 0.0
            self.client.timeout = 3.0
            self.upload()
        left = self.store.pending()
        if left:
            log.info("agent: %d events wait in the outbox for the next start", left)
        self.store.close()
        self.journal.close()
        log.info("agent: stopped")

    def _recover(self) -> None:
        """A play cut off by a crash or power loss is reported, never played again; a
        relay whose slot still runs resumes for the rest of it (a live stream airs
        nothing twice). One prepared but never released (onair.releases) plays still."""
        relays = self._running_relays()
        released = self.journal.released()
        for occurrence_id in sorted(self.store.handled()):
            state = self.store.state(occurrence_id)
            if state in ON_AIR_KINDS and occurrence_id in relays:
                log.warning("agent: relay %s was on air when the agent stopped", occurrence_id)
                self.store.record(occurrence_id, EventKind.RELAY_PAUSED, RESTARTED)
                self._resume.add(occurrence_id)
            elif state in ON_AIR_KINDS:
                log.warning(
                    "agent: occurrence %s was playing when the agent stopped", occurrence_id
                )
                self.store.record(
                    occurrence_id,
                    EventKind.FAILED,
                    "cut short: the agent stopped during the play",
                    at=self.clock(),
                )
            elif state == READY and released is not None and occurrence_id not in released:
                log.warning(
                    "agent: occurrence %s was prepared but the agent stopped before its "
                    "sound; it plays if still within its grace window",
                    occurrence_id,
                )
                self.store.forget(occurrence_id)
            elif state == READY:
                # Stopped in the instant of its sound (or no journal tells): it may have
                # begun to sound.
                self.store.record(
                    occurrence_id,
                    EventKind.FAILED,
                    "not played again: the agent stopped as the play was starting",
                )
        self.journal.begin()  # all it told is settled in the played set now

    def _running_relays(self) -> set[int]:
        cached = self.store.get("manifest")
        if not cached:
            return set()
        now = self.clock()
        return {
            p.occurrence_id
            for p in parse_manifest(json.loads(cached)).values()
            if p.is_relay and now < p.ends_at
        }

    # -- the manifest

    def sync(self, *, fresh: bool = False) -> bool:
        """Fetch the manifest (304 when unchanged) and make sure its audio is cached."""
        ok = False
        try:
            ok = self._sync(fresh)
            return ok
        finally:
            if self.push is not None:
                self.push.synced(ok)

    def _sync(self, fresh: bool) -> bool:
        if self._throttled():
            return False
        etag = self.store.get("etag")
        try:
            cursor = self.push.cursor if fresh and self.push is not None else None
            status, new_etag, document = self.client.manifest(etag, fresh=fresh, cursor=cursor)
        except (OSError, HttpError, ValueError) as exc:
            if isinstance(exc, HttpError) and exc.status == 429:
                self._slow_down("manifest", exc)
                return False
            self._offline(f"manifest: {exc}")
            self._ensure_audio()  # a cached manifest may still need audio fetched later
            return False
        self._online_again()
        self._last_sync = self.clock()
        offset = self.clock.offset_s()
        if offset is not None:  # the first play after a restart offline goes by it
            self.store.put(clock_offset=f"{offset:.3f}")
        if status == 304 or document is None:
            log.debug("manifest: unchanged")
        else:
            self.store.put(manifest=json.dumps(document), etag=new_etag or "")
            self._apply_manifest(document, source="server")
        self._ensure_audio()
        return True

    def _apply_manifest(self, document: dict[str, Any], *, source: str) -> None:
        plays = parse_manifest(document)
        self.grace = manifest_grace(document)
        handled = self.store.handled()
        with self._plays_lock:
            self.plays = plays
        scheduled = self.timer.keys()
        for occurrence_id in scheduled - plays.keys():
            log.info("schedule: occurrence %s was withdrawn by the server", occurrence_id)
            self.timer.cancel(occurrence_id)
        upcoming = []
        for play in plays.values():
            if play.occurrence_id in self._submitted:
                continue
            if play.occurrence_id in handled and play.occurrence_id not in self._resume:
                continue
            self.timer.set(play.occurrence_id, play.at, _rank(play))
            upcoming.append(play.at)
        log.info(
            "manifest (%s): %d plays, %d still to play%s",
            source,
            len(plays),
            len(upcoming),
            f", the next at {min(upcoming).isoformat()}" if upcoming else "",
        )

    def _ensure_audio(self) -> None:
        if self._throttled():
            return
        with self._plays_lock:
            # A relay on air has left the manifest, but may still lack its fallback (it
            # started before the fetch): the stream can drop at any moment of its slot.
            now = self.clock()
            self._relays = {k: p for k, p in self._relays.items() if now < p.ends_at}
            on_air = list(self._relays.values())
            plays = on_air + sorted(self.plays.values(), key=lambda p: p.at)
        handled = self.store.handled() - {p.occurrence_id for p in on_air}
        seen: set[str] = set()
        for play in plays:
            if play.occurrence_id in handled or play.sha256 in seen or self._stop.is_set():
                continue
            if not play.sha256:
                continue  # a relay without fallback audio: nothing to cache
            seen.add(play.sha256)
            if self.audio.verified(play):
                continue
            try:
                self.audio.fetch(play)
            except (OSError, HttpError, ValueError) as exc:
                if isinstance(exc, HttpError) and exc.status == 429:
                    self._slow_down("audio", exc)
                    break
                log.warning("audio: cannot fetch %s yet: %s", play.sha256[:12], exc)
                if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                    self._offline(f"audio: {exc}")
                    break
        keep = {p.sha256 for p in plays}
        self.audio.collect(keep, older_than=timedelta(days=2))

    # -- playing

    def _fire(self, occurrence_id: int) -> None:
        with self._plays_lock:
            play = self.plays.get(occurrence_id)
        if play is None or self._stopping or occurrence_id in self._submitted:
            return
        now = self.clock()
        late = now - play.at
        if occurrence_id in self._resume:  # a relay the agent's restart cut: its slot goes on
            self._fire_relay(play, late)
            return
        if self.store.state(occurrence_id) is not None:
            return  # already played (or skipped) before a restart
        grace = self.grace
        if late > grace:
            reason = (
                f"not played: {int(late.total_seconds())} s past its time, beyond the "
                f"{_span(grace)} grace window"
            )
            log.warning(
                "play: occurrence %s %r skipped, %s",
                occurrence_id,
                play.title,
                reason,
                extra={"occurrence_id": occurrence_id, "event": str(EventKind.SKIPPED)},
            )
            self.store.record(occurrence_id, EventKind.SKIPPED, reason, at=now)
            self._wake.set()
            return
        if play.is_relay:
            self._fire_relay(play, late)
            return
        path = self.audio.verified(play)
        if path is None:
            log.warning(
                "play: audio for occurrence %s is not in the cache yet; retrying in %.0f s",
                occurrence_id,
                RETRY_AUDIO_S,
                extra={"occurrence_id": occurrence_id},
            )
            retry = now + timedelta(seconds=RETRY_AUDIO_S)
            if retry - play.at > grace:
                retry = play.at + grace + timedelta(seconds=1)  # then it is reported skipped
            self.timer.set(occurrence_id, retry + self.timer.lead, _rank(play))
            self._need_audio.set()
            self._wake.set()  # let the sync loop fetch it now
            return
        if late.total_seconds() > 1:
            log.info(
                "play: occurrence %s starts %.0f s late",
                occurrence_id,
                late.total_seconds(),
                extra={"occurrence_id": occurrence_id, "late_s": round(late.total_seconds())},
            )
        self._submit(play, path, repeat=play.repeat)

    def _submit(self, play: ManifestItem, path: Path, **extra: Any) -> None:
        """Hand the play to the queue, once per process (a relay cue adds its slot)."""
        self._submitted.add(play.occurrence_id)
        self.queue.submit(
            Cue(
                at=play.at,
                rank=-play.priority,
                order=play.order,
                schedule_id=play.schedule_id,
                occurrence_id=play.occurrence_id,
                path=path,
                duration_s=play.duration_s,
                **extra,
            )
        )

    def _next_play_at(self) -> datetime | None:
        """When the next play still to fire is due (what the amplifier switches on for)."""
        scheduled = self.timer.keys()
        with self._plays_lock:
            times = [self.plays[k].at for k in scheduled if k in self.plays]
        return min(times) if times else None

    def _fire_relay(self, play: ManifestItem, late: timedelta) -> None:
        """A relay needs no audio but its fallback's, and waits for none: without the
        fallback in the cache it relays all the same, and silence fills a drop."""
        fallback = None
        if play.fallback is not None:
            fallback = self.audio.verified(play)
            if fallback is None:  # the relay looks for it at a drop: fetch it meanwhile
                fallback = self.audio.path(play.sha256)
                with self._plays_lock:
                    self._relays[play.occurrence_id] = play
                self._need_audio.set()
                self._wake.set()
        if late.total_seconds() > 1:
            log.info("play: relay %s starts %.0f s late", play.occurrence_id, late.total_seconds())
        self._submit(
            play,
            fallback or self.cache_dir,
            relay=RelaySlot(
                url=play.stream_url,
                name=play.stream_name,
                kind=play.stream_kind,
                fallback=fallback,
                resumed=play.occurrence_id in self._resume,
            ),
        )

    def _on_event(self, kind: str, item: Cue, detail: str) -> bool | None:
        tone = item.occurrence_id < 0  # the test tone of a command, not an occurrence
        if kind == READY and not tone and self.clock() - item.at > self.grace:
            # It waited behind a relay (or a long queue) past its grace window.
            late = int((self.clock() - item.at).total_seconds())
            detail = (
                f"not played: {late} s past its time, beyond the {_span(self.grace)} grace window"
            )
            self._record(EventKind.SKIPPED, item, detail)
            return False
        if kind == READY:
            # The amplifier on and the volume set before the sound is released; neither
            # failing stops the play (both are logged and reported in the heartbeat).
            self.amplifier.ensure_on(f"item {item.occurrence_id} starts")
            self.volumes.apply(item.priority)
        if tone:
            self.tone_finished(-item.occurrence_id, str(kind), detail)
            return None
        if kind == READY:
            # Durable before any sound (the queue waits for it): after a crash from here on
            # the play is reported, never played again. Written when the queue reaches the
            # play rather than when the timer fires, so that plays queued behind a long one
            # are still played after a crash.
            self.store.mark(item.occurrence_id, READY)
            return None
        if self._stopping and kind == EventKind.FINISHED:
            kind, detail = EventKind.INTERRUPTED, "cut short: the agent was stopped"
        self._record(kind, item, detail)
        return None

    def _record(self, kind: str, item: Cue, detail: str) -> None:
        # Stamped by the server's time, as every event is: the station's own clock may not
        # be. A start is stamped when the queue released the sound.
        at = item.released_at if kind == EventKind.STARTED else None
        self.store.record(item.occurrence_id, kind, detail, at=at or self.clock())
        log.info(
            "play: occurrence %s %s%s",
            item.occurrence_id,
            kind,
            f" ({detail})" if detail else "",
            extra={"occurrence_id": item.occurrence_id, "event": kind},
        )
        self._wake.set()


def _rank(play: ManifestItem) -> int:
    # Within an instant: higher priority first, then the station's collision order.
    return -play.priority * 100 + play.order


def _span(grace: timedelta) -> str:
    seconds = int(grace.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


# --- entry points ----------------------------------------------------------------------


def build_player(name: str, time_scale: float | None = None) -> Player:
    """The player by name; the null player honours BROADCASTER_AGENT_TIME_SCALE (tests)."""
    if name == "null":
        if time_scale is None:
            time_scale = float(os.environ.get(TIME_SCALE_ENV) or 1.0)
        return NullPlayer(time_scale=time_scale)
    return make_player(name)


def run_agent(
    server: str,
    token: str,
    cache_dir: str | Path,
    player_name: str = "auto",
    *,
    player: Player | None = None,
    sync_interval: float = 60.0,
    heartbeat_interval: float = 60.0,
    stop_event: threading.Event | None = None,
    hardware: Hardware | None = None,
    push: bool = True,
) -> int:
    """Run until SIGTERM/SIGINT (in the main thread), stop_event or a restart command.

    Returns the exit code: 0, or RESTART_EXIT after the province's "restart agent".
    """
    agent = Agent(
        server=server,
        token=token,
        cache_dir=Path(cache_dir),
        player=player or build_player(player_name),
        sync_interval=sync_interval,
        heartbeat_interval=heartbeat_interval,
        hardware=hardware,
        push=push,
    )
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum, _frame):
            log.info("agent: signal %s received", signum)
            agent.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    if stop_event is not None:
        threading.Thread(
            target=lambda: (stop_event.wait(), agent.stop()), daemon=True, name="agent-stop"
        ).start()
    agent.run()
    return agent.exit_code


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m broadcaster.stations.agent",
        description="Station agent: syncs the manifest and audio, plays on time, reports.",
    )
    parser.add_argument("--server", required=True, help="e.g. https://broadcaster.example.vn")
    parser.add_argument("--token", help=f"station token (or {TOKEN_ENV}, or --token-file)")
    parser.add_argument("--token-file", type=Path, help="file holding the station token")
    parser.add_argument("--cache", required=True, type=Path, help="folder for audio and state")
    parser.add_argument("--player", choices=PLAYERS, default="auto")
    parser.add_argument("--sync-interval", type=_positive, default=60.0, metavar="SECONDS")
    parser.add_argument("--heartbeat-interval", type=_positive, default=60.0, metavar="SECONDS")
    add_hardware_options(parser)
    parser.add_argument(
        "--no-push", action="store_true", help="poll only; no held connection to the server"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    from broadcaster.core import logs
    from broadcaster.core.config import ConfigError, log_format

    try:
        fmt = log_format(dict(os.environ))
    except ConfigError as exc:
        parser.error(str(exc))
    logs.configure(
        fmt,
        level=logging.DEBUG if args.verbose else logging.INFO,
        text_format="%(asctime)s agent %(levelname)s %(message)s",
    )
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if args.token_file:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            parser.error(f"cannot read --token-file: {exc}")
    if not token:
        parser.error(f"a token is required: --token, --token-file or {TOKEN_ENV}")
    if not args.server.startswith(("http://", "https://")):
        parser.error("--server must start with http:// or https://")
    try:
        player = build_player(args.player)
    except ValueError as exc:
        parser.error(str(exc))
    return run_agent(
        args.server,
        token,
        args.cache,
        args.player,
        player=player,
        sync_interval=args.sync_interval,
        heartbeat_interval=args.heartbeat_interval,
        hardware=hardware_of(args),
        push=not args.no_push,
    )
