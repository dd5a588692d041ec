"""`make chaos`: run the fault scenarios, print what each tried and its verdict.

Exits 1 when any play was lost or doubled, a scenario found another fault, or a scenario
could not be run as designed (e.g. no root to mount the tmpfs): none of those is a pass.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

from chaos import push, scenarios
from chaos.harness import ChaosError, Verdict, build_template

SCENARIOS = {
    "kill": scenarios.scheduler_killed_through_a_day,
    "agent": scenarios.agent_killed,
    "database": scenarios.database_unavailable,
    "disk": scenarios.disk_full_during_render,
    "gtts": scenarios.gtts_hanging,
    "clock": scenarios.clock_jumps,
    "push": push.push_dropped_and_server_restarted,
    "reconnect": push.reconnect_storm,
}


def run(
    names: list[str], *, seed: int, quick: bool, workdir: Path, keep: bool = True
) -> list[Verdict]:
    template = build_template(workdir / "template")
    verdicts = []
    for name in names:
        started = time.monotonic()
        context = scenarios.Context(
            workdir=workdir / name,
            template=template,
            rng=random.Random(f"{seed}-{name}"),
            quick=quick,
        )
        context.workdir.mkdir(parents=True, exist_ok=True)
        try:
            verdict = SCENARIOS[name](context)
        except ChaosError as exc:
            verdict = Verdict(f"{name}: could not be run")
            verdict.problems.append(str(exc))
        except Exception as exc:  # one broken scenario must not hide the others' verdicts
            traceback.print_exc()
            verdict = Verdict(f"{name}: crashed")
            verdict.problems.append(repr(exc))
        where = f", logs in {context.workdir}" if keep else ""
        verdict.tried.append(f"({time.monotonic() - started:.0f} s{where})")
        print(verdict.report(), flush=True)
        verdicts.append(verdict)
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__)
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    parser.add_argument("--seed", type=int, default=None, help="replay a run (printed)")
    parser.add_argument("--quick", action="store_true", help="the short variants")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    print(f"chaos run, seed {seed} (replay with --seed {seed})", flush=True)
    names = args.scenarios or list(SCENARIOS)
    if args.workdir:
        verdicts = run(names, seed=seed, quick=args.quick, workdir=args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="broadcaster-chaos-") as folder:
            verdicts = run(names, seed=seed, quick=args.quick, workdir=Path(folder), keep=False)
    failed = [v.scenario for v in verdicts if not v.ok]
    print(f"\n{len(verdicts) - len(failed)} of {len(verdicts)} scenarios: nothing lost or doubled")
    for name in failed:
        print(f"FAILED: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
