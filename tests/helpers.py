"""Helpers for tests that run the real `broadcaster` command in a child process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from broadcaster.core.config import PROJECT_ROOT, Settings, load_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(folder: Path, database_url: str, **overrides: str) -> Settings:
    """Test settings: instance and audio folders in `folder`, the given database."""
    env = {
        "BROADCASTER_ENV": "test",
        "BROADCASTER_INSTANCE_DIR": str(folder / "instance"),
        "BROADCASTER_DATABASE_URL": database_url,
        "BROADCASTER_AUDIO_DIR": str(folder / "audio"),
        **overrides,
    }
    return load_settings(env)


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env.update(
        BROADCASTER_ENV="test",
        BROADCASTER_INSTANCE_DIR=str(settings.instance_dir),
        BROADCASTER_DATABASE_URL=settings.database_url,
        BROADCASTER_AUDIO_DIR=str(settings.audio_dir),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def run_cli(settings: Settings, *args: str, input: str | None = None, **extra: str):
    return subprocess.run(
        [sys.executable, "-m", "broadcaster", *args],
        cwd=PROJECT_ROOT,
        env=env_for(settings, **extra),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_cli(settings: Settings, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "broadcaster", *args],
        cwd=PROJECT_ROOT,
        env=env_for(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def measure_loudness(path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of a file, measured by ffmpeg."""
    stderr = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true:framelog=verbose",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    summary = stderr.rsplit("Summary:", 1)[1]
    lufs = float(summary.split("I:", 1)[1].split("LUFS", 1)[0])
    peak = float(summary.split("True peak:", 1)[1].split("Peak:", 1)[1].split("dBFS", 1)[0])
    return lufs, peak


def csrf(client, path: str) -> str:
    """The CSRF token of the form on `path`, as a browser would send it back."""
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)
