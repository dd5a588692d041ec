"""The agent's amplifier hook, mixer and machine readings, with real commands.

The hooks are real shell commands (a script appending its argument and a timestamp to a
file); amixer is a real executable on PATH that records its arguments, since this
machine has no sound card. The clock is injected, so the lead and tail are exact.
"""

import os
import stat
import subprocess
import sys
import time
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.core.config import PROJECT_ROOT
from broadcaster.stations.agent.amplifier import (
    NO_MIXER,
    Amplifier,
    Mixer,
    Volumes,
    run_hook,
    temperature_c,
    write_test_tone,
)

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


def recorder(folder: Path) -> tuple[str, Path]:
    """A hook command that appends '<word> <unix time>' to calls.log."""
    log = folder / "calls.log"
    script = folder / "amp.sh"
    script.write_text(f'#!/bin/sh\necho "$1 $(date +%s.%N)" >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def calls(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def amplifier(tmp_path, clock, *, upcoming, busy, **options) -> tuple[Amplifier, Path]:
    hook, log = recorder(tmp_path)
    options = {
        "on_command": f"{hook} on",
        "off_command": f"{hook} off",
        "lead_s": 10,
        "tail_s": 30,
        **options,
    }
    return Amplifier(upcoming=upcoming, busy=busy, clock=clock, **options), log


def test_it_switches_on_by_the_lead_stays_on_between_close_items_and_off_after_the_tail(
    tmp_path,
):
    clock = Clock()
    items = [T0 + timedelta(seconds=60), T0 + timedelta(seconds=100)]
    playing: list[bool] = [False]
    amp, log = amplifier(
        tmp_path,
        clock,
        upcoming=lambda: next((at for at in items if at > clock.now), None),
        busy=lambda: playing[0],
    )
    clock.at(0)
    amp.tick()  # nothing within the lead: the amplifier is switched off (a known state)
    clock.at(31)
    amp.tick()
    assert calls(log) == ["off"]
    clock.at(49)
    amp.tick()
    assert calls(log) == ["off"], "not before the 10 s lead"
    clock.at(50)
    amp.tick()
    assert calls(log) == ["off", "on"] and amp.state == "on"
    playing[0] = True
    clock.at(60)
    amp.tick()
    playing[0] = False  # the first item ends at 80 s; the next is at 100 s
    for second in range(80, 101, 5):
        clock.at(second)
        amp.tick()
    playing[0] = True
    clock.at(101)
    amp.tick()
    playing[0] = False
    clock.at(120)
    amp.tick()
    clock.at(149)
    amp.tick()
    assert calls(log) == ["off", "on"], "on between back-to-back items, and through the tail"
    clock.at(150)
    amp.tick()
    assert calls(log) == ["off", "on", "off"] and amp.state == "off"


def test_an_item_that_starts_without_the_lead_switches_it_on_first(tmp_path):
    clock = Clock()
    amp, log = amplifier(tmp_path, clock, upcoming=lambda: None, busy=lambda: False)
    amp.ensure_on("an emergency")
    amp.ensure_on("the next item")  # already on: no second call
    assert calls(log) == ["on"]


def test_a_failing_or_hanging_hook_is_reported_and_does_not_raise(tmp_path):
    clock = Clock()
    amp = Amplifier(
        on_command="echo relay not found >&2; exit 3",
        off_command="sleep 5",
        timeout_s=0.5,
        upcoming=lambda: None,
        busy=lambda: False,
        clock=clock,
    )
    amp.ensure_on("an item")  # returns: the play goes on
    assert amp.state == "" and "exited 3: relay not found" in amp.last_error
    started = time.monotonic()
    error = amp.switch(False, why="test")
    assert time.monotonic() - started < 3
    assert "did not finish within 0.5 s" in error and amp.last_error == error


def test_manual_on_from_the_province_holds_past_the_tail(tmp_path):
    clock = Clock()
    amp, log = amplifier(tmp_path, clock, upcoming=lambda: None, busy=lambda: False)
    assert amp.switch(True, why="command", manual=True) == ""
    for second in (1, 40, 120):
        clock.at(second)
        amp.tick()
    assert calls(log) == ["on"]
    clock.at(11 * 60)  # the hold is over: the tail applies again
    amp.tick()
    clock.at(11 * 60 + 31)
    amp.tick()
    assert calls(log) == ["on", "off"]


def test_without_hooks_nothing_runs_and_the_state_says_so(tmp_path):
    amp = Amplifier(upcoming=lambda: T0, busy=lambda: False, clock=Clock())
    amp.tick()
    assert not amp.configured and amp.state == ""
    assert amp.switch(True, why="command", manual=True) == "no amplifier on command is configured"


def test_run_hook_says_when_a_command_cannot_start():
    assert "exited 127" in run_hook("/no/such/relay-tool on", timeout=5)


# --- the mixer ---------------------------------------------------------------------------


@pytest.fixture
def fake_amixer(tmp_path, monkeypatch):
    """An amixer on PATH that records its arguments; 'sget Missing' fails like ALSA's."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "amixer.log"
    script = folder / "amixer"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'case "$*" in *"sget Missing"*) echo "Unable to find simple control" >&2; exit 1;; esac\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


def test_the_volume_follows_the_priority_through_amixer(fake_amixer):
    volumes = Volumes(Mixer("Master"), normal=70, priority=85, emergency=100)
    assert volumes.apply(0) == "" and volumes.apply(2) == "" and volumes.apply(1) == ""
    volumes.apply(1)  # unchanged: amixer is not called again
    lines = fake_amixer.read_text().splitlines()
    assert lines == [
        "-q sget Master",
        "-q sset Master 70%",
        "-q sset Master 100%",
        "-q sset Master 85%",
    ]
    assert volumes.mixer.name == "Master" and volumes.mixer.percent == 85


def test_a_level_not_configured_follows_the_one_below_and_none_leaves_the_mixer(fake_amixer):
    assert Volumes(Mixer(), normal=60).for_priority(2) == 60
    assert Volumes(Mixer(), normal=60, emergency=95).for_priority(1) == 60
    untouched = Volumes(Mixer())
    assert untouched.apply(2) == ""
    assert "sset" not in fake_amixer.read_text()


def test_a_machine_without_the_mixer_control_reports_no_mixer(fake_amixer):
    mixer = Mixer("Missing", card="1")
    assert not mixer.available and mixer.name == NO_MIXER
    assert mixer.set(50).startswith("no mixer")
    assert fake_amixer.read_text().splitlines() == ["-q -c 1 sget Missing"]


def test_a_machine_without_amixer_reports_no_mixer(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    mixer = Mixer()
    assert mixer.name == NO_MIXER and "no mixer" in mixer.set(80)


# --- the machine and the tone ------------------------------------------------------------


def test_the_temperature_is_the_hottest_zone_or_none(tmp_path):
    for n, millidegrees in enumerate(("41500", "55250", "junk")):
        zone = tmp_path / f"thermal_zone{n}"
        zone.mkdir()
        (zone / "temp").write_text(millidegrees + "\n")
    assert temperature_c(tmp_path) == 55.2
    assert temperature_c(tmp_path / "none") is None


def test_the_test_tone_is_a_short_wav_made_on_the_machine(tmp_path):
    path = write_test_tone(tmp_path / "tone.wav", seconds=1.5)
    with wave.open(str(path)) as tone:
        assert tone.getnchannels() == 1 and tone.getframerate() == 8000
        assert tone.getnframes() == 12000
        frames = tone.readframes(tone.getnframes())
    assert (
        max(abs(int.from_bytes(frames[i : i + 2], "little", signed=True)) for i in range(0, 400, 2))
        > 7000
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--volume-normal", "150"], "must be a whole number from 0 to 100"),
        (["--amp-lead", "-1"], "must be 0 or more"),
    ],
)
def test_the_command_line_refuses_a_volume_or_lead_it_cannot_use(tmp_path, args, message):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "broadcaster.stations.agent",
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "x",
            "--cache",
            str(tmp_path),
            *args,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
