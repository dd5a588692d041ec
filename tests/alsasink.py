"""ALSA PCM file sinks: where a test or benchmark hears when audio left the player.

The container has no sound card and cannot load snd-aloop, so each sink is an ALSA
`type file` PCM (slave null) writing raw PCM into a FIFO, defined in an asoundrc that
ALSA_CONFIG_PATH adds to Debian's alsa.conf. aplay plays to it like to a card; a reader
process (this module run as a script) timestamps the first bytes of each play on the
wall clock. It is a separate process so that the timestamps do not wait for the
interpreter lock of the process being measured.

    sinks = FileSinks(folder, ["a", "b"])  # sinks.env for the players' environment
    AplayPlayer(sinks.device("a")) ... sinks.plays("a") -> [Heard(first_at, nbytes)]
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ALSA_CONF = "/usr/share/alsa/alsa.conf"


@dataclass(frozen=True)
class Heard:
    first_at: float  # time.time() when the first bytes reached the sink
    nbytes: int  # PCM bytes of the whole play


class FileSinks:
    """One FIFO-backed ALSA file PCM per name, and the reader process that listens to all."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fifos = {name: self.folder / f"{name}.pcm" for name in names}
        blocks = []
        for name, fifo in self.fifos.items():
            if not fifo.exists():
                os.mkfifo(fifo)
            blocks.append(
                f'pcm.{self.device(name)} {{\n  type file\n  slave.pcm null\n  file "{fifo}"\n'
                "  format raw\n}\n"
            )
        self.asoundrc = self.folder / "asoundrc"
        self.asoundrc.write_text("".join(blocks))
        self.env = {"ALSA_CONFIG_PATH": f"{ALSA_CONF}:{self.asoundrc}"}
        self._heard: dict[str, list[Heard]] = {name: [] for name in names}
        self._lock = threading.Lock()
        self._reader = subprocess.Popen(
            [sys.executable, __file__, *(f"{n}={p}" for n, p in self.fifos.items())],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._reader.stdout is not None
        if self._reader.stdout.readline().strip() != "listening":
            raise RuntimeError("the sink reader did not start")
        self._collector = threading.Thread(target=self._collect, daemon=True)
        self._collector.start()

    @staticmethod
    def device(name: str) -> str:
        return f"broadcaster_sink_{name}"

    def env_default(self, name: str) -> dict[str, str]:
        """An environment whose ALSA default device is this sink (for a whole process)."""
        rc = self.folder / f"{name}.default.asoundrc"
        rc.write_text(f"pcm.!default {self.device(name)}\n")
        return {"ALSA_CONFIG_PATH": f"{self.env['ALSA_CONFIG_PATH']}:{rc}"}

    def _collect(self) -> None:
        assert self._reader.stdout is not None
        for line in self._reader.stdout:
            if line.startswith("{"):
                data = json.loads(line)
                with self._lock:
                    self._heard[data["sink"]].append(Heard(data["first_at"], data["bytes"]))

    def plays(self, name: str) -> list[Heard]:
        with self._lock:
            return list(self._heard[name])

    def close(self) -> None:
        self._reader.terminate()
        self._reader.wait(timeout=5)
        self._collector.join(timeout=5)
        if self._reader.stdout is not None:
            self._reader.stdout.close()

    def __enter__(self) -> FileSinks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _listen(fifos: dict[str, str]) -> None:
    """Print one JSON line per play: the sink, when its first bytes came, how many."""

    def open_fifo(path: str) -> int:
        # Non-blocking: waiting for a writer must not stop the other sinks being read.
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    fds = {open_fifo(path): name for name, path in fifos.items()}
    started: dict[int, tuple[float, int]] = {}
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    print("listening", flush=True)
    while True:
        for fd, events in poller.poll():
            now = time.time()
            name = fds[fd]
            data = os.read(fd, 1 << 20) if events & select.POLLIN else b""
            if data:
                first, total = started.get(fd, (now, 0))
                started[fd] = (first, total + len(data))
                continue
            if events & (select.POLLHUP | select.POLLERR):  # the player closed it: one play
                poller.unregister(fd)
                os.close(fd)
                del fds[fd]
                if fd in started:
                    first, total = started.pop(fd)
                    print(json.dumps({"sink": name, "first_at": first, "bytes": total}), flush=True)
                again = open_fifo(fifos[name])
                fds[again] = name
                poller.register(again, select.POLLIN)


if __name__ == "__main__":
    _listen(dict(arg.split("=", 1) for arg in sys.argv[1:]))
