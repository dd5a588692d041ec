"""The agent's HTTP side: the station API client, its errors and Retry-After, and downloads.

Owns talking to the server over urllib (manifest with If-None-Match, JSON posts, audio
downloads resumed with a Range request) and the audio cache that holds what was
downloaded, checked against its sha256 and moved into place durably. Stdlib only.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broadcaster import __version__
from broadcaster.core.fsutil import replacing
from broadcaster.stations.agent.clock import ServerClock
from broadcaster.stations.agent.plan import ManifestItem

log = logging.getLogger("broadcaster.stations.agent")

API = "/api/v1"
SERVER_TIME = "X-Server-Time"
SERVER_RECEIVED = "X-Server-Received"
PUSH_CURSOR = "X-Push-Cursor"
CHUNK = 64 * 1024
MAX_RETRY_AFTER_S = 3600.0  # a server asking for more is not believed beyond this


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
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class Client:
    """The station API over urllib; raises OSError when the server cannot be reached."""

    def __init__(
        self, server: str, token: str, timeout: float = 15.0, clock: ServerClock | None = None
    ) -> None:
        self.base = server.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.clock = clock  # told the server's time by every answer but a held one

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

    def _open(self, request: urllib.request.Request, timeout: float | None = None, *, held=False):
        sent = self.clock.started() if self.clock else 0.0
        try:
            response = urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as exc:
            if self.clock and not held and exc.headers:
                self.clock.observe(
                    sent, exc.headers.get(SERVER_TIME), exc.headers.get(SERVER_RECEIVED)
                )
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
        # A held answer was stamped when the server let it go, not half-way through.
        if self.clock and not held:
            headers = response.headers
            self.clock.observe(sent, headers.get(SERVER_TIME), headers.get(SERVER_RECEIVED))
        return response

    def manifest(
        self, etag: str | None, *, fresh: bool = False, cursor: str | None = None
    ) -> tuple[int, str | None, dict | None]:
        headers = {"If-None-Match": etag} if etag else {}
        if fresh:  # told of a change by push: the server reads its change log first
            headers["Cache-Control"] = "no-cache"
            if cursor:  # unless it has read it as far as the push answer had
                headers[PUSH_CURSOR] = cursor
        with self._open(self._request(f"{API}/manifest", headers=headers)) as response:
            if response.status == 304:
                return 304, etag, None
            return response.status, response.headers.get("ETag"), json.load(response)

    def get(self, path: str, timeout: float | None = None) -> dict:
        with self._open(self._request(f"{API}{path}"), timeout) as response:
            return json.load(response)

    def push(
        self, etag: str | None, hold_s: float, cursor: str | None = None
    ) -> tuple[set[str], str | None]:
        """Wait for the server to say what changed (empty: nothing within its hold); also
        the cursor to send next time (the changes this answer is as of)."""
        headers = {"If-None-Match": etag} if etag else {}
        if cursor:
            headers[PUSH_CURSOR] = cursor
        request = self._request(f"{API}/push", headers=headers)
        with self._open(request, hold_s, held=True) as response:
            cursor = response.headers.get(PUSH_CURSOR)
            if response.status == 204:
                return set(), cursor
            topics = json.load(response).get("topics", [])
        if not isinstance(topics, list):
            return set(), cursor
        return {str(topic) for topic in topics}, cursor

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

    def verified(self, play: ManifestItem) -> Path | None:
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

    def fetch(self, play: ManifestItem) -> Path:
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
            # The .part stays where it is until complete (a later attempt resumes it);
            # complete and checked, it becomes the cached file in one durable replace.
            with replacing(final, mode=0o644) as temporary:
                os.replace(part, temporary)
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
