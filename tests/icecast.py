"""A real Icecast server (Debian's icecast2) on loopback, fed by a real ffmpeg source.

The server keeps Icecast's default burst on connect (64 KiB), as the stations we relay do:
ffmpeg reading a stream needs that much before it knows the format. The source sends
320 kbit/s so a restarted source fills it within two seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from tests.helpers import free_port, wait_until

PASSWORD = "relay-test"

CONFIG = """<icecast>
  <limits><sources>4</sources><source-timeout>3</source-timeout></limits>
  <authentication>
    <source-password>{password}</source-password>
    <admin-user>admin</admin-user><admin-password>{password}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths>
    <logdir>{folder}</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog>
    <loglevel>2</loglevel></logging>
  {security}
</icecast>
"""


class Icecast:
    """icecast2 on a free loopback port; `feed(mount)` starts a tone on a mount."""

    def __init__(self, folder: Path) -> None:
        if not shutil.which("icecast2"):
            raise RuntimeError("icecast2 not found: install the Debian package icecast2")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        # icecast2 refuses to run as root unless it can drop to another user, who then
        # writes the logs: in a folder of their own (pytest's are private to root).
        self.logs = Path(tempfile.mkdtemp(prefix="icecast-"))
        security = ""
        if os.geteuid() == 0:
            os.chmod(self.logs, 0o777)
            security = (
                "<security><chroot>0</chroot><changeowner><user>nobody</user>"
                "<group>nogroup</group></changeowner></security>"
            )
        config = self.folder / "icecast.xml"
        config.write_text(
            CONFIG.format(port=self.port, folder=self.logs, password=PASSWORD, security=security)
        )
        self.process = subprocess.Popen(
            ["icecast2", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.sources: dict[str, subprocess.Popen] = {}
        try:
            wait_until(self._answers, timeout=10)
        except AssertionError:
            self.close()
            raise

    def url(self, mount: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mount}"

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status-json.xsl", timeout=1):
                return True
        except OSError:
            return False

    def on_air(self, mount: str) -> bool:
        """Whether the mount has a source that has sent its first 64 KiB (the burst)."""
        try:
            with urllib.request.urlopen(self.url(mount), timeout=2) as response:
                return len(response.read(65536)) == 65536
        except OSError:
            return False

    def feed(self, mount: str, *, bitrate: str = "320k", wait: bool = True) -> None:
        """A 440 Hz tone on `mount`, encoded as MP3 in real time by ffmpeg."""
        self.sources[mount] = subprocess.Popen(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-ac",
                "1",
                "-c:a",
                "libmp3lame",
                "-b:a",
                bitrate,
                "-content_type",
                "audio/mpeg",
                "-f",
                "mp3",
                f"icecast://source:{PASSWORD}@127.0.0.1:{self.port}/{mount}",
            ],  # fmt: skip
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if wait:
            wait_until(lambda: self.on_air(mount), timeout=10)

    def cut(self, mount: str) -> None:
        """Kill the mount's source, as a failing studio link would."""
        source = self.sources.pop(mount)
        os.killpg(source.pid, signal.SIGKILL)
        source.wait()

    def close(self) -> None:
        for mount in list(self.sources):
            self.cut(mount)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.logs, ignore_errors=True)
