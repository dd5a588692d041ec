"""What relaying costs a station machine: CPU and memory of a 30 s relay over idle.

A real icecast2 on loopback carries a 128 kbit/s MP3 tone (ffmpeg encoding it in real
time, as a radio's encoder would). A child process loads the agent's modules and runs
the agent's playout queue with the null player and its relay (onair.relay: ffmpeg
decoding the stream into PCM, read and counted by the queue's thread, then dropped: the
null sink still decodes every byte). It sits idle for IDLE_S, then relays for RELAY_S.

Measured over the child and its children (ffmpeg), from /proc: CPU time per wall second
(percent of one core), and resident memory sampled every 0.5 s. Targets: relaying adds
≤ 5 % of one core and ≤ 20 MB. The memory target is held against private memory
(RssAnon + RssShmem: what the relay takes from the machine); the resident total, which
also counts the clean, shared, reclaimable pages of ffmpeg's shared libraries (about
40 MB for Debian's ffmpeg, shared with every other ffmpeg the station runs, such as the
aplay player's), is printed beside it. "ratio" is the headroom, target / measured.

Run: .venv/bin/python bench/relay.py   (exits 1 if a target is missed)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _procs import cpu_s, tree  # noqa: E402

from tests._icecast import running_icecast  # noqa: E402

IDLE_S = 10.0
RELAY_S = 30.0
WARMUP_S = 3.0  # connecting and the first burst are not the steady state
CPU_TARGET_PCT = 5.0
MEMORY_TARGET_MB = 20.0

CHILD = """
import sys, threading
from datetime import UTC, datetime
from pathlib import Path
import broadcaster.stations.agent.runner  # the agent's modules, loaded as on a station
from broadcaster.onair.players import NullPlayer
from broadcaster.onair.playout import Cue, PlayoutQueue, RelaySlot
from broadcaster.onair.relay import RelayPlayer

done = threading.Event()
def on_event(kind, item, detail):
    if kind in ("finished", "failed", "interrupted"):
        print(kind, detail, flush=True)
        done.set()
queue = PlayoutQueue(NullPlayer(), on_event, name="bench", relay=RelayPlayer("null"))
print("ready", flush=True)
url, seconds = sys.stdin.readline().split()
queue.submit(Cue(at=datetime.now(UTC), rank=0, schedule_id=1, occurrence_id=1, path=Path("."),
                 duration_s=float(seconds), relay=RelaySlot(url=url, name="bench")))
done.wait()
queue.close()
"""


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """(resident, private) in MB over the processes."""
    resident = private = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        values = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in lines)
                  if k in ("VmRSS", "RssAnon", "RssShmem")}  # fmt: skip
        resident += values.get("VmRSS", 0)
        private += values.get("RssAnon", 0) + values.get("RssShmem", 0)
    return resident / 1024, private / 1024


def measure(pid: int, seconds: float) -> tuple[float, float, float]:
    """(CPU % of one core, peak resident MB, peak private MB) over `seconds`."""
    pids = tree(pid)
    began, cpu0 = time.monotonic(), cpu_s(pids)
    peak_resident = peak_private = 0.0
    while time.monotonic() - began < seconds:
        time.sleep(0.5)
        pids = tree(pid)
        resident, private = memory_mb(pids)
        peak_resident, peak_private = max(peak_resident, resident), max(peak_private, private)
    used = cpu_s(tree(pid)) - cpu0
    return 100 * used / (time.monotonic() - began), peak_resident, peak_private


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as folder:
        with running_icecast(Path(folder) / "icecast") as icecast:
            feed = icecast.feed("/vov1.mp3", bitrate="128k")
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdin and child.stdout
            assert child.stdout.readline().strip() == "ready"
            idle = measure(child.pid, IDLE_S)
            child.stdin.write(f"{feed.url} {WARMUP_S + RELAY_S + 2}\n")
            child.stdin.flush()
            time.sleep(WARMUP_S)
            relaying = measure(child.pid, RELAY_S)
            outcome = child.stdout.readline().strip()
            child.wait(timeout=30)
    cpu = relaying[0] - idle[0]
    resident, private = relaying[1] - idle[1], relaying[2] - idle[2]
    print(
        f"relay: idle {idle[0]:.2f} % CPU, {idle[1]:.1f} MB resident ({idle[2]:.1f} MB private); "
        f"relaying {relaying[0]:.2f} %, {relaying[1]:.1f} MB ({relaying[2]:.1f} MB private)"
    )
    print(
        f"relay CPU: +{cpu:.2f} % of one core (target ≤ {CPU_TARGET_PCT:g} %) "
        f"ratio {CPU_TARGET_PCT / max(cpu, 0.01):.1f}"
    )
    print(
        f"relay memory: +{private:.1f} MB private (target ≤ {MEMORY_TARGET_MB:g} MB) "
        f"ratio {MEMORY_TARGET_MB / max(private, 0.1):.1f}; "
        f"+{resident:.1f} MB resident counting ffmpeg's shared libraries"
    )
    print(f"relay: {outcome}")
    ok = outcome.startswith("finished") and cpu <= CPU_TARGET_PCT and private <= MEMORY_TARGET_MB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
