"""Shared by the benchmarks: a database of many agent stations with tokens and plays, fast.

Rows are inserted in bulk with SQL (the ORM would take minutes for 100,000 stations);
datetimes go through UTCDateTime, so the same code fills SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, text

from broadcaster.core.dbtypes import UTCDateTime

AUDIO_SIZE = 503_275  # a 84 s bulletin as the render pipeline encodes it (48 kb/s mono)
BATCH = 20_000


def _insert(connection, sql: str, rows: list[dict], *datetimes: str) -> None:
    statement = text(sql).bindparams(*(bindparam(n, type_=UTCDateTime) for n in datetimes))
    for start in range(0, len(rows), BATCH):
        connection.execute(statement, rows[start : start + BATCH])


def build_database(url: str, stations: int, plays_per_station: int) -> list[str]:
    """Migrate `url` and fill it: `stations` agent stations, each with a token and its plays
    (one schedule, one rendered audio file) in the next 48 h. Returns the tokens."""
    from broadcaster.core import db

    db.upgrade(url)
    now = datetime.now(UTC)
    tokens = [f"bench-token-{i:06d}-{os.urandom(8).hex()}" for i in range(stations)]
    engine = db.make_engine(url)
    try:
        with engine.begin() as connection:
            _insert(
                connection,
                "INSERT INTO area (id, code, name, kind, division_type) "
                "VALUES (:id, :code, :name, :kind, '')",
                [{"id": 1, "code": "P1", "name": "Tỉnh Bench", "kind": "province"}],
            )
            connection.execute(
                text(
                    "INSERT INTO area (id, code, name, kind, division_type, parent_id) "
                    "VALUES (:id, :code, :name, 'commune', 'xã', 1)"
                ),
                [{"id": i + 2, "code": f"C{i}", "name": f"Xã {i}"} for i in range(stations)],
            )
            _insert(
                connection,
                "INSERT INTO station (id, code, name, area_id, timezone, mode, is_active, "
                "created_at, token_hash, token_created_at) VALUES (:id, :code, :name, :area, "
                "'Asia/Ho_Chi_Minh', 'agent', true, :now, :hash, :now)",
                [
                    {
                        "id": i + 1,
                        "code": f"BENCH-{i:06d}",
                        "name": f"Đài truyền thanh xã {i}",
                        "area": i + 2,
                        "now": now,
                        "hash": hashlib.sha256(token.encode()).hexdigest(),
                    }
                    for i, token in enumerate(tokens)
                ],
                "now",
            )
            _insert(
                connection,
                "INSERT INTO script (id, slug, title, tags, created_at, updated_at) "
                "VALUES (1, 'bench', 'Lời nhắc hằng ngày về cài đặt Bluezone', '', :now, :now)",
                [{"now": now}],
                "now",
            )
            _insert(
                connection,
                "INSERT INTO scriptversion (id, script_id, number, body, voice, speed, repeat, "
                "engine, profile, status, created_at, review_comment) VALUES (1, 1, 1, "
                "'Kính thưa bà con', 'central', 1.0, 2, '', '', 'approved', :now, '')",
                [{"now": now}],
                "now",
            )
            _insert(
                connection,
                "INSERT INTO schedule (id, name, script_id, kind, weekdays, times, every_days, "
                "once_at, priority, repeat, targets_all, is_active, created_at, updated_at) "
                "VALUES (1, 'bench', 1, 'weekly', '0,1,2,3,4,5,6', '06:00,17:00', 1, '', 0, 1, "
                "true, true, :now, :now)",
                [{"now": now}],
                "now",
            )
            add_audio(connection, audio_id=1, sha256="b" * 64, path="ab/x.mp3", now=now)
            base = now.replace(minute=0, second=0, microsecond=0)
            add_plays(
                connection,
                audio_id=1,
                stations=stations,
                times=[base + timedelta(hours=2 + 11 * k) for k in range(plays_per_station)],
            )
        with engine.begin() as connection:
            # Fresh statistics: without them PostgreSQL plans the manifest as a scan of
            # every occurrence until autovacuum gets round to the new rows.
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return tokens


def add_audio(connection, *, audio_id: int, sha256: str, path: str, now: datetime) -> None:
    _insert(
        connection,
        "INSERT INTO audiofile (id, key, sha256, path, size, duration_s, lufs, true_peak_db, "
        "engine, voice, fallback, profile, spoken_text, peaks, created_at, last_used_at) "
        "VALUES (:id, :key, :sha, :path, :size, 83.568, -16.0, -1.5, 'espeak', 'central', "
        "false, 'loa-truyen-thanh', 'kính thưa bà con', '', :now, :now)",
        [
            {
                "id": audio_id,
                "key": f"{audio_id:064d}",
                "sha": sha256,
                "path": path,
                "size": AUDIO_SIZE,
                "now": now,
            }
        ],
        "now",
    )


def add_plays(connection, *, audio_id: int, stations: int, times: list[datetime]) -> None:
    """One rendered play of schedule 1 per station per time, with `audio_id`."""
    _insert(
        connection,
        "INSERT INTO occurrence (schedule_id, station_id, at, priority, version_id, audio_id, "
        "status, late, reason) VALUES (1, :station, :at, 0, 1, :audio, 'rendered', false, '')",
        [
            {"station": station, "at": at, "audio": audio_id}
            for station in range(1, stations + 1)
            for at in times
        ],
        "at",
    )


def wait_for_port(process: subprocess.Popen, port: int, log: Path, *, timeout: float) -> None:
    """Return once `process` accepts connections on `port`; raise if it exits or is slow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()}") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")
