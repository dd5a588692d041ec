"""`broadcaster up`: run web, scheduler (and later the local agent) as child processes."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

RESTART_LIMIT = 5
RESTART_WINDOW_S = 60.0
STOP_GRACE_S = 10.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        log.info("up: starting %s", self.name)
        self.process = subprocess.Popen(self.argv)


def broadcaster_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "broadcaster", *args]


def supervise(children: list[Child], *, poll_s: float = 0.5) -> int:
    """Start every child, restart one that dies (a few times), stop all on a signal.

    Returns the exit code for the `up` command: 0 after a requested stop, 1 when a
    child kept crashing.
    """
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for child in children:
        child.start()
    exit_code = 0
    try:
        while not stopping:
            time.sleep(poll_s)
            if stopping:
                # Ctrl-C reaches the children too: their exit now is the stop, not a crash.
                break
            for child in children:
                if child.process is None or child.process.poll() is None:
                    continue
                now = time.monotonic()
                child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S]
                if len(child.restarts) >= RESTART_LIMIT:
                    log.error("up: %s keeps exiting; stopping everything", child.name)
                    stopping, exit_code = True, 1
                    break
                log.warning(
                    "up: %s exited with %s; restarting", child.name, child.process.returncode
                )
                child.restarts.append(now)
                child.start()
    finally:
        _stop_all(children)
    return exit_code


def _stop_all(children: list[Child]) -> None:
    running = [(c, c.process) for c in children if c.process and c.process.poll() is None]
    for _child, process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for child, process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("up: %s did not stop in time; killing it", child.name)
            process.kill()
            process.wait()
