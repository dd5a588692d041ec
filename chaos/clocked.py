"""Run a module (`python -m chaos.clocked CLOCKFILE MODULE ARGS...`) on the chaos clock.

CLOCKFILE holds an offset in seconds from the real wall clock; the driver rewrites it
to jump every process's clock at once. time-machine moves the wall clock seen by Python
(datetime, time.time) and leaves the monotonic clock alone, so timed waits stay real.
libfaketime cannot do this with Python 3.11 here: with the monotonic clock faked,
timed waits hang; without, time.sleep fails with EINVAL.
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

POLL_SECONDS = 0.05


def read_offset(path: Path) -> float:
    try:
        return float(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0  # mid-rename: keep the clock where it is until the next poll


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: python -m chaos.clocked CLOCKFILE MODULE [ARGS...]")
    path, module, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    real_start, mono_start = datetime.now(UTC), time.monotonic()

    def real_now() -> datetime:
        return real_start + timedelta(seconds=time.monotonic() - mono_start)

    offset = read_offset(path)
    traveller = time_machine.travel(real_now() + timedelta(seconds=offset), tick=True).start()

    def follow() -> None:
        nonlocal offset
        while True:
            time.sleep(POLL_SECONDS)
            new = read_offset(path)
            if new != offset:
                offset = new
                traveller.move_to(real_now() + timedelta(seconds=offset))

    threading.Thread(target=follow, daemon=True, name="chaos-clock").start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
