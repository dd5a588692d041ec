"""The station agent: pulls the manifest and audio, plays on time, reports what it played.

    python -m broadcaster.stations.agent --server URL --token TOKEN --cache DIR \
        [--player ffplay|aplay|null]

Small on purpose (no Flask, no SQLAlchemy; stdlib sqlite3 and urllib): it runs on the
commune's own box next to the amplifier.

- Every --sync-interval seconds it asks for the manifest (If-None-Match, so an unchanged
  manifest costs a 304) and keeps the last one on disk (agent.db in the cache folder).
- Audio is downloaded ahead into the cache: to a .part file, resumed with a Range request
  after an interruption, checked against its sha256, then renamed. A cached file is
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
- A play more than GRACE (10 min) late is not played but reported "skipped" with why.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import heapq
import json
import logging
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broadcaster import __version__
from broadcaster.core.fsutil import fsync_directory
from broadcaster.onair.playout import PLAYERS, Cue, NullPlayer, Player, PlayoutQueue, make_player

log = logging.getLogger("broadcaster.stations.agent")

GRACE = timedelta(
    minutes=10
)  # the same as broadcaster.onair.occurrences.GRACE (a test holds them equal)
TIME_SCALE_ENV = "BROADCASTER_AGENT_TIME_SCALE"  # null player only: tests play fast
TOKEN_ENV = "BROADCASTER_AGENT_TOKEN"
API = "/api/v1"
BATCH = 500  # the server's limit per upload
MAX_DETAIL = 1000
CHUNK = 64 * 1024
RETRY_AUDIO_S = 5.0
KEEP_DAYS = 7
MAX_RETRY_AFTER_S = 3600.0  # a server asking for more is not believed beyond this
PRIORITIES = {"normal": 0, "priority": 1, "emergency": 2}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# --- the manifest ----------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    """One manifest item, as the agent needs it."""

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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Play:
        at = datetime.fromisoformat(data["at"])
        if at.tzinfo is None:
            raise ValueError("time without an offset")
        sha256 = str(data["sha256"])
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("bad sha256")
        return cls(
            occurrence_id=int(data["occurrence_id"]),
            at=at.astimezone(UTC),
            priority=PRIORITIES.get(data.get("priority", "normal"), 0),
            schedule_id=int(data.get("schedule_id", 0)),
            title=str(data.get("title", "")),
            sha256=sha256,
            size=int(data["size"]),
            duration_s=float(data["duration_s"]),
            repeat=max(1, int(data.get("repeat", 1))),
            audio_url=str(data["audio_url"]),
        )


def parse_manifest(document: dict[str, Any]) -> dict[int, Play]:
    plays = {}
    for raw in document.get("items", []):
        try:
            play = Play.from_json(raw)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("manifest: ignoring an item I cannot read (%s): %r", exc, raw)
            continue
        plays[play.occurrence_id] = play
    return plays


# --- local state -----------------------------------------------------------------------


class LocalStore:
    """agent.db in the cache folder: last manifest, played set, event outbox."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS played (
        occurrence_id INTEGER PRIMARY KEY,
        state TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uid TEXT NOT NULL UNIQUE,
        occurrence_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        detail TEXT NOT NULL,
        sent_at TEXT,
        rejected INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, seq);
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # the played set must survive power loss
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(self.SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statements: list[tuple[str, tuple]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def put(self, **values: str) -> None:
        self._write(
            [
                ("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (k, v))
                for k, v in values.items()
            ]
        )

    def state(self, occurrence_id: int) -> str | None:
        rows = self._read("SELECT state FROM played WHERE occurrence_id = ?", (occurrence_id,))
        return rows[0][0] if rows else None

    def handled(self) -> set[int]:
        return {row[0] for row in self._read("SELECT occurrence_id FROM played")}

    def record(self, occurrence_id: int, kind: str, detail: str = "", at: datetime | None = None):
        """Log an event in the outbox and move the played set, in one transaction."""
        uid = str(uuid.uuid4())
        moment = _iso(at or utcnow())
        self._write(
            [
                (
                    "INSERT INTO outbox (uid, occurrence_id, kind, at, detail) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (uid, occurrence_id, kind, moment, detail[:MAX_DETAIL]),
                ),
                (
                    "INSERT OR REPLACE INTO played (occurrence_id, state, at) VALUES (?, ?, ?)",
                    (occurrence_id, kind, moment),
                ),
            ]
        )
        return uid

    def unsent(self, limit: int = BATCH) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT uid, occurrence_id, kind, at, detail FROM outbox "
            "WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [
            {"id": u, "occurrence_id": o, "kind": k, "at": a, "detail": d} for u, o, k, a, d in rows
        ]

    def pending(self) -> int:
        return self._read("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]

    def mark_sent(self, uids: list[str], *, rejected: bool = False) -> None:
        now = _iso(utcnow())
        self._write(
            [
                (
                    "UPDATE outbox SET sent_at = ?, rejected = ? WHERE uid = ?",
                    (now, int(rejected), u),
                )
                for u in uids
            ]
        )

    def prune(self, now: datetime) -> None:
        cutoff = _iso(now - timedelta(days=KEEP_DAYS))
        self._write(
            [
                ("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (cutoff,)),
                ("DELETE FROM played WHERE at < ?", (cutoff,)),
            ]
        )


# --- HTTP ------------------------------------------------------------------------------


class HttpError(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or utcnow())).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class Client:
    """The station API over urllib; raises OSError when the server cannot be reached."""

    def __init__(self, server: str, token: str, timeout: float = 15.0) -> None:
        self.base = server.rstrip("/")
        self._token = token
        self.timeout = timeout

    def _request(
        self, path: str, *, body: Any = None, headers: dict[str, str] | None = None
    ) -> urllib.request.Request:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("User-Agent", f"broadcaster-agent/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        return request

    def _open(self, request: urllib.request.Request, timeout: float | None = None):
        try:
            return urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return exc
            try:
                message = json.loads(exc.read() or b"{}").get("error", exc.reason)
            except (ValueError, AttributeError):
                message = str(exc.reason)
            finally:
                exc.close()
            retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            raise HttpError(exc.code, str(message), retry_after) from None

    def manifest(self, etag: str | None) -> tuple[int, str | None, dict | None]:
        headers = {"If-None-Match": etag} if etag else {}
        with self._open(self._request(f"{API}/manifest", headers=headers)) as response:
            if response.status == 304:
                return 304, etag, None
            return response.status, response.headers.get("ETag"), json.load(response)

    def post(self, path: str, body: Any, timeout: float | None = None) -> dict:
        with self._open(self._request(f"{API}{path}", body=body), timeout) as response:
            return json.load(response)

    def download(self, url: str, part: Path, size: int) -> None:
        """Fetch url into `part`, continuing after the bytes already there (Range)."""
        offset = part.stat().st_size if part.exists() else 0
        if offset >= size:
            part.unlink()
            offset = 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        path = url if url.startswith("/") else "/" + url
        try:
            response = self._open(self._request(path, headers=headers))
        except HttpError as exc:
            if exc.status == 416:
                part.unlink(missing_ok=True)
            raise
        with response:
            resumed = offset and response.status == 206
            if offset:
                log.info(
                    "audio: resuming %s at byte %d (%s)",
                    part.name,
                    offset,
                    "partial content" if resumed else "server sent it whole",
                )
            expected = response.headers.get("Content-Length")
            received = 0
            with open(part, "ab" if resumed else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and expected.isdigit() and received < int(expected):
                # Kept: the next attempt asks for the rest with a Range request.
                raise ConnectionError(
                    f"connection closed after {received} of {expected} bytes of {part.name}"
                )


# --- the audio cache -------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class AudioCache:
    """Files named <sha256>.mp3; a file is used only once its content matches its name."""

    def __init__(self, root: Path, client: Client) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._client = client
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, sha256: str) -> Path:
        return self.root / f"{sha256}.mp3"

    def _lock(self, sha256: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha256, threading.Lock())

    def verified(self, play: Play) -> Path | None:
        """The cached file if it is intact; a corrupt one is deleted (to be fetched again)."""
        path = self.path(play.sha256)
        with self._lock(play.sha256):
            if not path.is_file():
                return None
            if path.stat().st_size == play.size and sha256_of(path) == play.sha256:
                return path
            log.error("audio: %s is corrupt; deleting it to fetch it again", path.name)
            path.unlink(missing_ok=True)
            return None

    def fetch(self, play: Play) -> Path:
        """Download, verify and rename into place; raises OSError/HttpError/ValueError."""
        final = self.path(play.sha256)
        part = final.with_name(final.name + ".part")
        with self._lock(play.sha256):
            self._client.download(play.audio_url, part, play.size)
            size = part.stat().st_size
            if size < play.size:
                raise ConnectionError(f"{part.name}: {size} of {play.size} bytes so far")
            actual = sha256_of(part)
            if size != play.size or actual != play.sha256:
                part.unlink(missing_ok=True)  # wrong bytes: start again from nothing
                raise ValueError(f"downloaded {play.sha256[:12]} has sha256 {actual[:12]}")
            os.replace(part, final)
            fsync_directory(self.root)
        log.info("audio: cached %s (%d bytes) for %r", final.name, play.size, play.title)
        return final

    def files(self) -> int:
        return sum(1 for _ in self.root.glob("*.mp3"))

    def collect(self, keep: set[str], *, older_than: timedelta) -> int:
        """Delete files no play needs any more once they are old enough."""
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for path in self.root.glob("*.mp3"):
            if path.stem not in keep and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


# --- the timer -------------------------------------------------------------------------


class Timer:
    """Calls fire(key) when each key's time comes; one thread, wall clock re-read each second."""

    def __init__(self, fire: Callable[[int], None], clock: Callable[[], datetime]) -> None:
        self._fire = fire
        self._clock = clock
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
                now = self._clock()
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


# --- the agent -------------------------------------------------------------------------


class Agent:
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
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.client = Client(server, token)
        self.store = LocalStore(self.cache_dir / "agent.db")
        self.audio = AudioCache(self.cache_dir / "audio", self.client)
        self.sync_interval = sync_interval
        self.heartbeat_interval = heartbeat_interval
        self.clock = clock
        self.plays: dict[int, Play] = {}
        self._plays_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._stopping = False
        self._need_audio = threading.Event()
        self._submitted: set[int] = set()  # handed to the queue by this process
        self._online: bool | None = None
        self._last_sync: datetime | None = None
        self._upload_after = 0.0
        self._upload_backoff = 1.0
        self._quiet_until = 0.0  # the server said 429: no request before this (monotonic)
        self.queue = PlayoutQueue(player, self._on_event, name="agent")
        self.timer = Timer(self._fire, clock)

    # -- lifecycle

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        log.info("agent %s: server %s, cache %s", __version__, self.client.base, self.cache_dir)
        self._recover()
        cached = self.store.get("manifest")
        if cached:
            self._apply_manifest(json.loads(cached), source="cache")
        self.timer.start()
        next_sync = next_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                # Reports first: when the server rations requests (429), what it lacks is
                # what was played; the manifest it already sent is cached.
                self.upload()
                now = time.monotonic()
                if now >= next_sync:
                    self.sync()
                    next_sync = time.monotonic() + self.sync_interval
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
        self.timer.stop()
        self.queue.close()  # cuts a play short; it is reported as interrupted
        if self.store.pending():
            self._upload_after = 0.0
            self.client.timeout = 3.0
            self.upload()
        left = self.store.pending()
        if left:
            log.info("agent: %d events wait in the outbox for the next start", left)
        self.store.close()
        log.info("agent: stopped")

    def _recover(self) -> None:
        """A play cut off by a crash or power loss is reported, never played again."""
        for occurrence_id in sorted(self.store.handled()):
            if self.store.state(occurrence_id) == "started":
                log.warning(
                    "agent: occurrence %s was playing when the agent stopped", occurrence_id
                )
                self.store.record(
                    occurrence_id, "failed", "cut short: the agent stopped during the play"
                )

    # -- the manifest

    def sync(self) -> bool:
        """Fetch the manifest (304 when unchanged) and make sure its audio is cached."""
        if self._throttled():
            return False
        etag = self.store.get("etag")
        try:
            status, new_etag, document = self.client.manifest(etag)
        except (OSError, HttpError, ValueError) as exc:
            if isinstance(exc, HttpError) and exc.status == 429:
                self._slow_down("manifest", exc)
                return False
            self._offline(f"manifest: {exc}")
            self._ensure_audio()  # a cached manifest may still need audio fetched later
            return False
        self._online_again()
        self._last_sync = self.clock()
        if status == 304 or document is None:
            log.debug("manifest: unchanged")
        else:
            self.store.put(manifest=json.dumps(document), etag=new_etag or "")
            self._apply_manifest(document, source="server")
        self._ensure_audio()
        return True

    def _apply_manifest(self, document: dict[str, Any], *, source: str) -> None:
        plays = parse_manifest(document)
        handled = self.store.handled()
        with self._plays_lock:
            self.plays = plays
        scheduled = self.timer.keys()
        for occurrence_id in scheduled - plays.keys():
            log.info("schedule: occurrence %s was withdrawn by the server", occurrence_id)
            self.timer.cancel(occurrence_id)
        upcoming = []
        for play in plays.values():
            if play.occurrence_id in handled or play.occurrence_id in self._submitted:
                continue
            self.timer.set(play.occurrence_id, play.at, -play.priority)
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
            plays = sorted(self.plays.values(), key=lambda p: p.at)
        handled = self.store.handled()
        seen: set[str] = set()
        for play in plays:
            if play.occurrence_id in handled or play.sha256 in seen or self._stop.is_set():
                continue
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
        if self.store.state(occurrence_id) is not None:
            return  # already played (or skipped) before a restart
        now = self.clock()
        late = now - play.at
        if late > GRACE:
            reason = (
                f"not played: {int(late.total_seconds())} s past its time, beyond the "
                f"{int(GRACE.total_seconds() // 60)} min grace window"
            )
            log.warning(
                "play: occurrence %s %r skipped, %s",
                occurrence_id,
                play.title,
                reason,
                extra={"occurrence_id": occurrence_id, "event": "skipped"},
            )
            self.store.record(occurrence_id, "skipped", reason, at=now)
            self._wake.set()
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
            if retry - play.at > GRACE:
                retry = play.at + GRACE + timedelta(seconds=1)  # then it is reported skipped
            self.timer.set(occurrence_id, retry, -play.priority)
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
        self._submitted.add(occurrence_id)
        self.queue.submit(
            Cue(
                at=play.at,
                rank=-play.priority,
                schedule_id=play.schedule_id,
                occurrence_id=occurrence_id,
                path=path,
                duration_s=play.duration_s,
                repeat=play.repeat,
            )
        )

    def _on_event(self, kind: str, item: Cue, detail: str) -> None:
        if self._stopping and kind == "finished":
            kind, detail = "interrupted", "cut short: the agent was stopped"
        self.store.record(item.occurrence_id, kind, detail)
        log.info(
            "play: occurrence %s %s%s",
            item.occurrence_id,
            kind,
            f" ({detail})" if detail else "",
            extra={"occurrence_id": item.occurrence_id, "event": kind},
        )
        self._wake.set()

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
            "last_sync": _iso(self._last_sync) if self._last_sync else None,
            "cache_files": self.audio.files(),
        }
        try:
            self.client.post("/heartbeat", body)
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
) -> None:
    """Run until SIGTERM/SIGINT (in the main thread) or until stop_event is set."""
    agent = Agent(
        server=server,
        token=token,
        cache_dir=Path(cache_dir),
        player=player or build_player(player_name),
        sync_interval=sync_interval,
        heartbeat_interval=heartbeat_interval,
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
    run_agent(
        args.server,
        token,
        args.cache,
        args.player,
        player=player,
        sync_interval=args.sync_interval,
        heartbeat_interval=args.heartbeat_interval,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
