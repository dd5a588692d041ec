"""Throughput of the Vietnamese text normalizer on one core.

The corpus is the golden table's inputs (real-style announcement sentences), repeated.
The floor is 5,000 sentences per second: a day's schedule for a whole district is a few
thousand sentences, so the normalizer must never be what a preview or render waits on.
"ratio" is the headroom, measured rate / floor. A second line measures the same corpus
with a 300-entry staff lexicon, since every call passes the lexicon.

Run: .venv/bin/python bench/normalize.py   (exits 1 if below the floor)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

FLOOR = 5_000
ROUNDS = 5
SECONDS_PER_ROUND = 0.8
ROOT = Path(__file__).resolve().parents[1]


def corpus() -> list[str]:
    golden = ROOT / "tests" / "speech" / "golden_normalize.tsv"
    lines = golden.read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


def rate(sentences: list[str], normalize, lexicon) -> float:
    """Median sentences/second over a few timed rounds (after one warm-up pass)."""
    for sentence in sentences:
        normalize(sentence, lexicon=lexicon)
    rates = []
    for _ in range(ROUNDS):
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < SECONDS_PER_ROUND:
            for sentence in sentences:
                normalize(sentence, lexicon=lexicon)
            done += len(sentences)
        rates.append(done / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> int:
    # Running as a script puts bench/ on sys.path, not the repository root.
    sys.path.insert(0, str(ROOT))
    from broadcaster.speech.normalize import normalize

    sentences = corpus()
    lexicon = {f"Thôn{i}": f"thôn số {i}" for i in range(290)}
    lexicon.update({"Bluezone": "blu dôn", "UBND": "ủy ban nhân dân", "Zalo": "da lô"})
    plain = rate(sentences, normalize, None)
    with_lexicon = rate(sentences, normalize, lexicon)
    print(
        f"normalize: {plain:,.0f} sentences/s (floor {FLOOR:,}/s) ratio {plain / FLOOR:.2f}"
        f"  [{len(sentences)} golden sentences, one core]"
    )
    print(
        f"normalize with {len(lexicon)}-entry lexicon: {with_lexicon:,.0f} sentences/s "
        f"(floor {FLOOR:,}/s) ratio {with_lexicon / FLOOR:.2f}"
    )
    return 0 if min(plain, with_lexicon) >= FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
