"""Real stream servers on loopback for relay tests: Debian's icecast2 fed by ffmpeg, and an
HLS playlist written by ffmpeg and served over HTTP.

Use the `icecast` fixture (tests/conftest.py) and `icecast.feed("/vov1.mp3")`: the feed is an
ffmpeg process that pushes a sine tone in real time (`-re`), so a listener hears a live
stream. `feed.stop()` cuts the stream mid-relay (the mount disappears, as when the radio's
encoder dies) and `feed.start()` restores it on the same mount.
"""

from __future__ import annotations

import http.server
import os
import secrets
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from tests.helpers import free_port, wait_until

ICECAST = shutil.which("icecast2") or "/usr/bin/icecast2"

_CONFIG = """<icecast>
  <location>loopback</location>
  <admin>test@localhost</admin>
  <limits>
    <clients>20</clients>
    <sources>8</sources>
    <queue-size>524288</queue-size>
    <client-timeout>10</client-timeout>
    <header-timeout>5</header-timeout>
    <source-timeout>3</source-timeout>
    <burst-size>16384</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket>
    <port>{port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <fileserve>0</fileserve>
  <paths>
    <basedir>{base}</basedir>
    <logdir>{base}/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
    <pidfile>{base}/icecast.pid</pidfile>
  </paths>
  <logging>
    <accesslog>-</accesslog>
    <errorlog>-</errorlog>
    <loglevel>2</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>
    {changeowner}
  </security>
</icecast>
"""

# icecast2 refuses to run as root; under root (containers, CI) it drops to nobody, who may
# not reach pytest's private tmp folders: hence logs on stderr ("-"), into a file we opened.
_CHANGEOWNER = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"


@dataclass
class Feed:
    """An ffmpeg process pushing a tone to one Icecast mount."""

    server: Icecast
    mount: str
    frequency: int = 440
    codec: str = "mp3"
    bitrate: str = "64k"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{self.server.url}{self.mount}"

    def start(self, *, wait: bool = True) -> Feed:
        if self.process is not None and self.process.poll() is None:
            return self
        if self.codec == "aac":
            encode = ["-c:a", "aac", "-content_type", "audio/aac", "-f", "adts"]
        else:
            encode = ["-c:a", "libmp3lame", "-content_type", "audio/mpeg", "-f", "mp3"]
        self.process = subprocess.Popen(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                "-f", "lavfi", "-i", f"sine=frequency={self.frequency}:sample_rate=44100",
                "-ac", "1", "-b:a", self.bitrate, *encode,
                f"icecast://source:{self.server.password}@127.0.0.1:{self.server.port}{self.mount}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if wait:
            wait_until(lambda: self.server.is_live(self.mount), timeout=15)
        return self

    def stop(self) -> None:
        """Cut the stream: the source disconnects and Icecast drops the mount."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process = None
        wait_until(lambda: not self.server.is_live(self.mount), timeout=15)


@dataclass
class Icecast:
    """A real icecast2 process on a free loopback port with a generated config."""

    base: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(8))
    process: subprocess.Popen | None = field(default=None, repr=False)
    feeds: list[Feed] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.base / "log" / "icecast.log"

    def start(self) -> Icecast:
        (self.base / "log").mkdir(parents=True, exist_ok=True)
        changeowner = _CHANGEOWNER if os.geteuid() == 0 else ""
        config = self.base / "icecast.xml"
        config.write_text(
            _CONFIG.format(
                password=self.password, port=self.port, base=self.base, changeowner=changeowner
            )
        )
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [ICECAST, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._answers, timeout=15)
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"icecast2 exited: {self.log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{self.url}/status-json.xsl", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def is_live(self, mount: str) -> bool:
        """Whether Icecast serves `mount` now (a source is connected to it)."""
        request = urllib.request.Request(f"{self.url}{mount}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status == 200 and bool(response.read(1))
        except (urllib.error.URLError, OSError):
            return False

    def feed(self, mount: str = "/live.mp3", **options) -> Feed:
        """Start pushing a tone to `mount` and wait until listeners can hear it."""
        feed = Feed(self, mount, **options)
        self.feeds.append(feed)
        return feed.start()

    def stop(self) -> None:
        for feed in self.feeds:
            if feed.process is not None and feed.process.poll() is None:
                feed.process.kill()
                feed.process.wait(timeout=10)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def running_icecast(base: Path) -> Iterator[Icecast]:
    server = Icecast(base).start()
    try:
        yield server
    finally:
        server.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@dataclass
class HlsStream:
    """A live HLS playlist: ffmpeg writes segments into `folder`, HTTP serves them."""

    url: str
    folder: Path
    process: subprocess.Popen


@contextmanager
def serving_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` over loopback HTTP; yields the base URL."""
    handler = partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_hls(folder: Path, *, audio: bool = True) -> Iterator[HlsStream]:
    """A live HLS playlist on loopback; with audio=False its segments carry only video,
    the "playlist without audio" a station must refuse."""
    folder.mkdir(parents=True, exist_ok=True)
    if audio:
        source = ["-f", "lavfi", "-i", "sine=frequency=500:sample_rate=44100", "-c:a", "aac"]
    else:
        source = ["-f", "lavfi", "-i", "color=size=64x64:rate=5", "-c:v", "mpeg2video"]
    process = subprocess.Popen(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", *source,
            "-f", "hls", "-hls_time", "1", "-hls_list_size", "5",
            "-hls_flags", "delete_segments", str(folder / "live.m3u8"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _has_segments(folder), timeout=15)
        with serving_folder(folder) as base:
            yield HlsStream(f"{base}/live.m3u8", folder, process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _has_segments(folder: Path) -> bool:
    playlist = folder / "live.m3u8"
    return playlist.exists() and len(list(folder.glob("*.ts"))) >= 2
