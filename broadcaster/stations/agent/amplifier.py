"""The station's hardware beside the player: the amplifier hook, the ALSA mixer, the machine.

The amplifier is switched by commands the operator configures (a GPIO line, a USB relay,
any shell command): on `lead_s` seconds before the first item, off `tail_s` seconds after
the last, and left on between items closer together than that. A hook is a real
subprocess with a timeout; when it fails or hangs, that is logged and reported in the
heartbeat, and the play goes on regardless: a dead relay must not cost a bulletin.

The volume is set per priority through `amixer sset CONTROL N%` where the machine has
that mixer control; where it has none, the agent says "none" instead of failing. Also
the machine's temperature (/sys/class/thermal) for the heartbeat. Stdlib only.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import struct
import subprocess
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger("broadcaster.stations.agent")

HOOK_TIMEOUT_S = 10.0
MANUAL_HOLD = timedelta(minutes=10)  # "bật loa" from the province keeps it on this long
TICK_S = 0.25
THERMAL = Path("/sys/class/thermal")
NO_MIXER = "none"


def run_hook(command: str, timeout: float) -> str:
    """Run an operator's shell command; "" when it worked, else why it did not."""
    try:
        done = subprocess.run(
            command,
            shell=True,  # the operator's own command line, pipes and all
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{command!r} did not finish within {timeout:g} s"
    except OSError as exc:
        return f"{command!r} could not start: {exc}"
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        return f"{command!r} exited {done.returncode}" + (f": {said[-1][:120]}" if said else "")
    return ""


class Amplifier:
    """On before the first item, off after the last, through the operator's hooks.

    `upcoming()` is the time of the next item still to play (or None), `busy()` whether
    something plays now. Without hooks it does nothing and reports state "".
    """

    def __init__(
        self,
        *,
        on_command: str = "",
        off_command: str = "",
        lead_s: float = 10.0,
        tail_s: float = 30.0,
        timeout_s: float = HOOK_TIMEOUT_S,
        upcoming: Callable[[], datetime | None],
        busy: Callable[[], bool],
        clock: Callable[[], datetime],
    ) -> None:
        self.on_command = on_command
        self.off_command = off_command
        self.lead = timedelta(seconds=lead_s)
        self.tail = timedelta(seconds=tail_s)
        self.timeout_s = timeout_s
        self._upcoming = upcoming
        self._busy = busy
        self._clock = clock
        self.state = ""  # unknown until the first switch; "" stays when no hook is set
        self.last_error = ""
        self._idle_since: datetime | None = None
        self._hold_until: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agent-amplifier", daemon=True)

    @property
    def configured(self) -> bool:
        return bool(self.on_command or self.off_command)

    def start(self) -> None:
        if self.configured:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s + 2)

    def switch(self, on: bool, *, why: str, manual: bool = False) -> str:
        """Run the on or off hook; "" if it worked (or nothing was to be done), else why not."""
        with self._lock:
            now = self._clock()
            if manual:
                self._hold_until = now + MANUAL_HOLD if on else None
            wanted = "on" if on else "off"
            if self.state == wanted and not manual:
                return ""
            command = self.on_command if on else self.off_command
            if not command:
                return f"no amplifier {wanted} command is configured"
            error = run_hook(command, self.timeout_s)
            if error:
                self.last_error = error[:200]
                log.error("amplifier: switching %s failed (%s): %s", wanted, why, error)
                return error
            self.state = wanted
            self.last_error = ""
            self._idle_since = None
            log.info("amplifier: %s (%s)", wanted, why)
            return ""

    def ensure_on(self, why: str) -> None:
        """Before audio starts: on now if the lead was missed (an emergency, a restart)."""
        if self.on_command and self.state != "on":
            self.switch(True, why=why)

    def tick(self) -> None:
        """One look at the schedule: switch on ahead, off after the idle tail."""
        now = self._clock()
        if self._busy():
            self._idle_since = None
            return
        following = self._upcoming()
        if following is not None and following - now <= self.lead:
            self._idle_since = None
            if self.state != "on":
                self.switch(True, why=f"next item at {following.isoformat()}")
            return
        if self.state == "off" or not self.off_command:
            return
        if self._hold_until is not None and now < self._hold_until:
            return
        if self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= self.tail:
            self.switch(False, why="nothing more to play")

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # the amplifier must never take the agent down
                log.exception("amplifier: unexpected error")


class Mixer:
    """The ALSA mixer control the volume goes to, if the machine has it."""

    def __init__(self, control: str = "Master", card: str = "") -> None:
        self.control = control
        self.card = card
        self.percent: int | None = None
        self.available = self._probe()
        if not self.available:
            log.info("volume: no ALSA mixer control %r here; volume is left alone", control)

    def _base(self) -> list[str]:
        amixer = shutil.which("amixer")
        if amixer is None:
            return []
        return [amixer, "-q", *(["-c", self.card] if self.card else [])]

    def _probe(self) -> bool:
        base = self._base()
        if not base:
            return False
        try:
            done = subprocess.run(
                [*base, "sget", self.control], capture_output=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    @property
    def name(self) -> str:
        return self.control if self.available else NO_MIXER

    def set(self, percent: int) -> str:
        """Set the control to percent; "" when done, else why not."""
        if not self.available:
            return f"no mixer: this machine has no ALSA control {self.control!r}"
        if self.percent == percent:
            return ""
        base = self._base()
        command = [*base, "sset", self.control, f"{percent}%"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"amixer failed: {exc}"
        if done.returncode != 0:
            return f"amixer exited {done.returncode}: {done.stderr.strip()[:120]}"
        self.percent = percent
        log.info("volume: %s at %d%%", self.control, percent)
        return ""


class Volumes:
    """The volume for each priority: normal (set by the province too), priority, emergency.

    A level not configured follows the one below it; nothing configured leaves the mixer
    as the operator set it by hand.
    """

    def __init__(
        self,
        mixer: Mixer,
        normal: int | None = None,
        priority: int | None = None,
        emergency: int | None = None,
    ) -> None:
        self.mixer = mixer
        self.normal = normal
        self.priority = priority
        self.emergency = emergency

    def for_priority(self, priority: int) -> int | None:
        levels = [self.normal, self.priority, self.emergency][: max(0, min(priority, 2)) + 1]
        chosen = [level for level in levels if level is not None]
        return chosen[-1] if chosen else None

    def apply(self, priority: int) -> str:
        percent = self.for_priority(priority)
        if percent is None:
            return ""
        error = self.mixer.set(percent)
        if error:
            log.warning("volume: %s", error)
        return error


def temperature_c(root: Path = THERMAL) -> float | None:
    """The hottest thermal zone in °C, or None where the machine reports none."""
    readings = []
    for path in root.glob("thermal_zone*/temp"):
        try:
            readings.append(int(path.read_text().strip()) / 1000)
        except (OSError, ValueError):
            continue
    return round(max(readings), 1) if readings else None


def write_test_tone(path: Path, seconds: float = 3.0, hz: float = 1000.0) -> Path:
    """The built-in test tone: a 1 kHz sine at -12 dBFS, 8 kHz mono WAV (made, not fetched)."""
    if path.is_file():
        return path
    rate = 8000
    amplitude = 0.25 * 32767
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * hz * n / rate)))
        for n in range(int(seconds * rate))
    )
    part = path.with_name(path.name + ".part")
    with wave.open(str(part), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    part.replace(path)
    return path


@dataclass(frozen=True)
class Hardware:
    """The operator's amplifier hooks and volumes (agent options; see agent.amplifier)."""

    amp_on_command: str = ""
    amp_off_command: str = ""
    amp_lead_s: float = 10.0
    amp_tail_s: float = 30.0
    amp_timeout_s: float = 10.0
    mixer_control: str = "Master"
    mixer_card: str = ""
    volume_normal: int | None = None
    volume_priority: int | None = None
    volume_emergency: int | None = None

    def build(
        self,
        *,
        upcoming: Callable[[], datetime | None],
        busy: Callable[[], bool],
        clock: Callable[[], datetime],
        saved_volume: str | None = None,
    ) -> tuple[Amplifier, Volumes]:
        """The agent's amplifier and volumes; `saved_volume`: the province's last setting."""
        amplifier = Amplifier(
            on_command=self.amp_on_command,
            off_command=self.amp_off_command,
            lead_s=self.amp_lead_s,
            tail_s=self.amp_tail_s,
            timeout_s=self.amp_timeout_s,
            upcoming=upcoming,
            busy=busy,
            clock=clock,
        )
        volumes = Volumes(
            Mixer(self.mixer_control, self.mixer_card),
            normal=int(saved_volume) if saved_volume else self.volume_normal,
            priority=self.volume_priority,
            emergency=self.volume_emergency,
        )
        return amplifier, volumes


# --- the agent's options -----------------------------------------------------------------

HARDWARE_ENV = "BROADCASTER_AGENT_"  # each option also from BROADCASTER_AGENT_<NAME>


def _percent(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise argparse.ArgumentTypeError("must be a whole number from 0 to 100")
    return int(text)


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def add_hardware_options(parser: argparse.ArgumentParser) -> None:
    """The agent's amplifier and volume options, each also from BROADCASTER_AGENT_<NAME>."""

    def env(name: str) -> str | None:
        return os.environ.get(HARDWARE_ENV + name.upper().replace("-", "_")) or None

    group = parser.add_argument_group("amplifier and volume (also BROADCASTER_AGENT_<OPTION>)")
    group.add_argument(
        "--amp-on-command",
        default=env("amp-on-command") or "",
        metavar="SHELL",
        help='switches the amplifier on, e.g. "gpioset gpiochip0 17=1"',
    )
    group.add_argument("--amp-off-command", default=env("amp-off-command") or "", metavar="SHELL")
    for name, default, what in (
        ("amp-lead", 10.0, "on this long before the first item"),
        ("amp-tail", 30.0, "off this long after the last"),
        ("amp-timeout", 10.0, "a hook taking longer is stopped and reported"),
    ):
        raw = env(name)
        group.add_argument(
            f"--{name}",
            type=_seconds,
            default=_seconds(raw) if raw else default,
            metavar="SECONDS",
            help=what,
        )
    group.add_argument("--mixer-control", default=env("mixer-control") or "Master")
    group.add_argument("--mixer-card", default=env("mixer-card") or "", help="amixer -c CARD")
    for level in ("normal", "priority", "emergency"):
        raw = env(f"volume-{level}")
        group.add_argument(
            f"--volume-{level}",
            type=_percent,
            default=_percent(raw) if raw else None,
            metavar="PERCENT",
            help=f"mixer volume for {level} items (unset: left as it is)",
        )


def hardware_of(args: argparse.Namespace) -> Hardware:
    return Hardware(
        amp_on_command=args.amp_on_command,
        amp_off_command=args.amp_off_command,
        amp_lead_s=args.amp_lead,
        amp_tail_s=args.amp_tail,
        amp_timeout_s=max(args.amp_timeout, 0.1),
        mixer_control=args.mixer_control,
        mixer_card=args.mixer_card,
        volume_normal=args.volume_normal,
        volume_priority=args.volume_priority,
        volume_emergency=args.volume_emergency,
    )
