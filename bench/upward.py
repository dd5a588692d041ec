"""Report upward speed: a province's month, per bulletin and per commune.

A province of 100 communes (one agent station each; today's provinces have 40 to 170)
with 30 days of 4 plays a day (12,000 plays: 85 % played with their started and finished
events, 10 % missed, 5 % failed), and the same for 1,000 communes (120,000 plays) to show
the report grows with the plays, not with a query per commune. Targets: 0.5 s and 5 s for
`upward_report()` plus the XLSX; "ratio" is the headroom, target / time (median of 3 runs).
The reference figure is the obvious way: one query per commune for its plays.

Run: .venv/bin/python bench/upward.py   (exits 1 if a target is missed)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import _stations

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOME = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST = date(2026, 11, 1)
DAYS = 30
SLOTS = ((6, 0), (11, 0), (17, 0), (20, 30))
CASES = ((100, 0.5), (1_000, 5.0))


def fill(url: str, communes: int) -> None:
    from sqlalchemy import text

    from broadcaster.core import db

    _stations.build_database(url, communes, 1)
    engine = db.make_engine(url)
    plays, events = [], []
    number = communes + 10  # past the plays build_database made
    for station in range(1, communes + 1):
        for day in range(DAYS):
            for slot, (hour, minute) in enumerate(SLOTS):
                at = datetime.combine(FIRST + timedelta(days=day), datetime.min.time(), HOME)
                at = (at + timedelta(hours=hour, minutes=minute)).astimezone(UTC)
                number += 1
                kind = (station + day * 4 + slot) % 20
                status = "played" if kind < 17 else ("missed" if kind < 19 else "failed")
                reason = {"missed": "the station reported no play within the grace window"}
                plays.append(
                    {
                        "id": number,
                        "station": station,
                        "at": at,
                        "status": status,
                        "reason": reason.get(status, "ffplay exited 1" if kind == 19 else ""),
                        "started": at + timedelta(seconds=3) if status == "played" else None,
                    }
                )
                if status == "played":
                    for event in ("started", "finished"):
                        events.append({"occ": number, "station": station, "kind": event, "at": at})
    try:
        with engine.begin() as connection:
            _stations._insert(
                connection,
                "INSERT INTO occurrence (id, schedule_id, station_id, at, priority, version_id, "
                "audio_id, status, late, reason, started_at) VALUES (:id, 1, :station, :at, 0, "
                "1, 1, :status, false, :reason, :started)",
                plays,
                "at",
                "started",
            )
            _stations._insert(
                connection,
                "INSERT INTO playevent (occurrence_id, station_id, kind, at, actor, detail) "
                "VALUES (:occ, :station, :kind, :at, 'agent', '')",
                events,
                "at",
            )
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def measure(url: str) -> tuple[float, float, int]:
    from sqlmodel import Session, col, select

    from broadcaster.accountability.upward import find_area, upward_report
    from broadcaster.accountability.upward_export import to_xlsx
    from broadcaster.core import db
    from broadcaster.core.models import Occurrence, Station

    engine = db.make_engine(url)
    last = FIRST + timedelta(days=DAYS - 1)
    times, naive_times = [], []
    try:
        with Session(engine) as session:
            area = find_area(session, "P1")
            for _ in range(3):
                started = time.perf_counter()
                report = upward_report(
                    session, area=area, first=FIRST, last=last, timezone="Asia/Ho_Chi_Minh"
                )
                to_xlsx(report)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            for station_id in session.exec(select(Station.id)):
                list(
                    session.exec(select(Occurrence).where(col(Occurrence.station_id) == station_id))
                )
            naive_times.append(time.perf_counter() - started)
        aired = sum(row.aired for row in report.bulletins)
    finally:
        engine.dispose()
    return statistics.median(times), naive_times[0], aired


def main() -> int:
    missed = False
    for communes, target in CASES:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            fill(url, communes)
            seconds, naive, aired = measure(url)
        ratio = target / seconds
        missed |= ratio < 1
        print(
            f"{communes:>5} communes x {DAYS} days ({communes * DAYS * len(SLOTS):,} plays, "
            f"{aired:,} aired): report + XLSX {seconds:.3f} s (target {target} s, "
            f"ratio {ratio:.2f}); a query per commune, plays only: {naive:.3f} s"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
