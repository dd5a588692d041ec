"""Load: simulated station agents against the station API, served as in production.

Server: gunicorn (web.wsgi:app, gthread workers) on loopback, database SQLite in a
temporary folder (or --database-url, e.g. a PostgreSQL database to fill: it must be
empty). 100,000 agent stations with tokens and 4 rendered plays each in the next 48 h.

An agent's minute is what broadcaster/stations/agent.py does every 60 s: GET /api/v1/manifest with
If-None-Match (304 when nothing changed) and POST /api/v1/heartbeat. Scenarios:

  a  3,321 communes polling every minute: offered 3,321/60 agent-minutes per second
  b  100,000 clusters polling every minute: offered 100,000/60 per second
  max  as many agent-minutes as the server completes (closed loop): the capacity; also
       without the heartbeat (manifest polls alone), to show what the writes cost
  c  a new bulletin to all: every manifest changes at once; agents as fast as possible
     fetch the new manifest (200) and download the new audio (503 KB, from Python here;
     nginx serves it in production)

Time is compressed: each scenario runs a few seconds at the offered rate of a real
minute, so it stands for the steady state, not for one whole minute. Latency is measured
by the client from sending the request to reading the last byte of the answer. Load
comes from CLIENT_PROCESSES processes, each an asyncio loop with raw HTTP/1.1 keep-alive
connections. On a 2-core machine the clients take CPU from the server, so the capacity
is a lower bound.

Run: .venv/bin/python bench/load.py [--workers N] [--threads N] [--database-url URL]
Exits 1 if any request failed or one machine served fewer agents per minute than there
are communes (FLOOR).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _stations

ROOT = Path(__file__).resolve().parents[1]
COMMUNES = 3_321
CLUSTERS = 100_000
PLAYS = 4
POLL_S = 60.0
CLIENT_PROCESSES = 2
CONNECTIONS = 32  # per client process
SCENARIO_S = {"a": 8.0, "b": 10.0, "max-manifest": 8.0, "max": 8.0, "c": 8.0}
# One machine must at least serve every commune of the country each minute; the nation's
# 100,000 clusters are the scale the ratio is printed against (machines = 1 / ratio).
FLOOR = COMMUNES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the server ---------------------------------------------------------------------------


def start_gunicorn(env: dict, port: int, workers: int, threads: int, log: Path):
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "web.wsgi:app",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--keep-alive=75",  # agents keep their connection between polls
        "--log-level=warning",
    ]
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    _stations.wait_for_port(process, port, log, timeout=60)
    return process


# --- what the agents know -----------------------------------------------------------------


def etags_of(url: str, stations: int) -> list[str]:
    """Each station's current manifest ETag, computed here instead of asked for 100,000 times.

    Every station has the same plays, so its rows are station 1's with its own occurrence
    ids (inserted station by station). A wrong ETag would show as a 200 where a 304 is
    expected and count as an error.
    """
    from sqlmodel import Session

    from broadcaster.core import db
    from broadcaster.stations import manifest
    from broadcaster.stations.sqlread import read_rows
    from broadcaster.stations.tokens import StationRef

    engine = db.make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        params = {"station_id": 1, **manifest._window(now)}
        rows = read_rows(session, manifest._MANIFEST, params)
    engine.dispose()
    etags = []
    for index in range(stations):
        shifted = [(row[0] + index * PLAYS, *row[1:]) for row in rows]
        station = StationRef(
            id=index + 1,
            code=f"BENCH-{index:06d}",
            name=f"Đài truyền thanh xã {index}",
            timezone="Asia/Ho_Chi_Minh",
        )
        etags.append(manifest._manifest(station, shifted).etag)
    return etags


def new_bulletin(url: str, audio_dir: Path, stations: int) -> str:
    """A bulletin for every station in 1 h: new audio on disk, a play each; returns its sha256."""
    from broadcaster.core import db

    content = os.urandom(_stations.AUDIO_SIZE)
    sha256 = hashlib.sha256(content).hexdigest()
    relative = f"{sha256[:2]}/{sha256}.mp3"
    (audio_dir / sha256[:2]).mkdir(parents=True, exist_ok=True)
    (audio_dir / relative).write_bytes(content)
    now = datetime.now(UTC)
    engine = db.make_engine(url)
    with engine.begin() as connection:
        _stations.add_audio(connection, audio_id=2, sha256=sha256, path=relative, now=now)
        _stations.add_plays(
            connection, audio_id=2, stations=stations, times=[now + timedelta(hours=1)]
        )
    engine.dispose()
    return sha256


# --- the agents ---------------------------------------------------------------------------

# Set in the parent before the client processes fork: read-only there.
TOKENS: list[str] = []
ETAGS: list[str] = []


async def _exchange(reader, writer, request: bytes) -> tuple[int, int]:
    """Send one request, read the whole answer; (status, body bytes)."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed by the server")
    status = int(status_line.split()[1])
    length = 0
    closing = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            closing = True
    if length:
        await reader.readexactly(length)
    if closing:
        raise ConnectionResetError("server closed the connection")  # reconnect, not an error
    return status, length


def _get(path: str, token: str, etag: str | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    if etag:
        lines.append(f'If-None-Match: "{etag}"')
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _heartbeat(token: str) -> bytes:
    body = json.dumps(
        {
            "version": "bench",
            "player_state": "idle",
            "free_disk_mb": 20_000,
            "cache_files": PLAYS,
            "last_sync": datetime.now(UTC).isoformat(),
        }
    ).encode()
    head = (
        "POST /api/v1/heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _steps(kind: str, index: int, bulletin: str | None) -> list[tuple[str, bytes, int]]:
    """(name, request, expected status) of one agent-minute of `kind`."""
    token = TOKENS[index]
    if kind == "manifest":
        return [("manifest 304", _get("/api/v1/manifest", token, ETAGS[index]), 304)]
    if kind == "bulletin":
        return [
            ("manifest 200", _get("/api/v1/manifest", token, ETAGS[index]), 200),
            ("audio 200", _get(f"/api/v1/audio/{bulletin}.mp3", token), 200),
        ]
    return [
        ("manifest 304", _get("/api/v1/manifest", token, ETAGS[index]), 304),
        ("heartbeat", _heartbeat(token), 200),
    ]


async def _agents(port, kind, first, count, rate, seconds, bulletin):
    """Agent-minutes of agents first..first+count-1, at `rate` per second (None: flat out)."""
    started = time.perf_counter()
    deadline = started + seconds
    queue: asyncio.Queue = asyncio.Queue()
    results = {"latency": {}, "errors": {}, "done": 0, "bytes": 0}

    async def offer():
        sent = 0
        while time.perf_counter() < deadline:
            due = started + sent / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await queue.put(first + sent % count)
            sent += 1

    async def connection(number: int):
        reader = writer = None
        flat_out = rate is None
        next_agent = first + number
        while time.perf_counter() < deadline:
            if flat_out:
                index = next_agent
                next_agent = first + (next_agent - first + CONNECTIONS) % count
            else:
                try:
                    index = await asyncio.wait_for(queue.get(), deadline - time.perf_counter())
                except TimeoutError:
                    break
            for name, request, expected in _steps(kind, index, bulletin):
                for attempt in range(2):
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    begun = time.perf_counter()
                    try:
                        status, size = await _exchange(reader, writer, request)
                    except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
                        writer.close()
                        reader = writer = None
                        if isinstance(exc, ConnectionResetError) and attempt == 0:
                            continue  # the server ended keep-alive: reconnect, ask again
                        results["errors"][type(exc).__name__] = (
                            results["errors"].get(type(exc).__name__, 0) + 1
                        )
                        break
                    results["latency"].setdefault(name, []).append(time.perf_counter() - begun)
                    results["bytes"] += size
                    if status != expected:
                        key = f"{name}: got {status}"
                        results["errors"][key] = results["errors"].get(key, 0) + 1
                    break
            results["done"] += 1
        if writer is not None:
            writer.close()

    tasks = [asyncio.create_task(connection(n)) for n in range(CONNECTIONS)]
    if rate is not None:
        tasks.append(asyncio.create_task(offer()))
    await asyncio.gather(*tasks)
    results["seconds"] = time.perf_counter() - started
    return results


def _client(args) -> dict:
    return asyncio.run(_agents(*args))


def run_scenario(pool, port, kind, agents, rate, seconds, bulletin=None) -> dict:
    """Split the agents and the rate between the client processes; merge what they saw."""
    share = agents // CLIENT_PROCESSES
    jobs = [
        (
            port,
            kind,
            n * share,
            share,
            None if rate is None else rate / CLIENT_PROCESSES,
            seconds,
            bulletin,
        )
        for n in range(CLIENT_PROCESSES)
    ]
    merged = {"latency": {}, "errors": {}, "done": 0, "bytes": 0, "seconds": seconds}
    for part in pool.map(_client, jobs):
        for name, values in part["latency"].items():
            merged["latency"].setdefault(name, []).extend(values)
        for name, count in part["errors"].items():
            merged["errors"][name] = merged["errors"].get(name, 0) + count
        merged["done"] += part["done"]
        merged["bytes"] += part["bytes"]
        merged["seconds"] = max(merged["seconds"], part["seconds"])
    return merged


def api_requests_counted(port: int) -> float:
    """Station API requests the server's own latency histogram counted, over all workers."""
    import http.client

    from prometheus_client.parser import text_string_to_metric_families

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "broadcaster_api_request_duration_seconds_count"
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


# --- the run ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--database-url", help="an empty database to fill (default: SQLite)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'load.db'}"
        audio_dir = folder / "audio"
        TOKENS[:] = _stations.build_database(url, CLUSTERS, PLAYS)
        ETAGS[:] = etags_of(url, CLUSTERS)
        built = time.monotonic() - began
        (folder / "prometheus").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
        env.update(
            BROADCASTER_ENV="test",
            BROADCASTER_DATABASE_URL=url,
            BROADCASTER_INSTANCE_DIR=str(folder / "instance"),
            BROADCASTER_AUDIO_DIR=str(audio_dir),
            PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"),
            PYTHONPATH=str(ROOT),
        )
        port = free_port()
        server = start_gunicorn(env, port, args.workers, args.threads, folder / "gunicorn.log")
        rows = []
        try:
            with multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES) as pool:
                warm_up = run_scenario(pool, port, "poll", COMMUNES, None, 1.0)
                for name, agents in (("a", COMMUNES), ("b", CLUSTERS)):
                    rate = agents / POLL_S
                    result = run_scenario(pool, port, "poll", agents, rate, SCENARIO_S[name])
                    rows.append((name, agents, rate, result))
                for name, kind in (("max-manifest", "manifest"), ("max", "poll")):
                    result = run_scenario(pool, port, kind, CLUSTERS, None, SCENARIO_S[name])
                    rows.append((name, CLUSTERS, None, result))
                bulletin = new_bulletin(url, audio_dir, CLUSTERS)
                result = run_scenario(
                    pool, port, "bulletin", CLUSTERS, None, SCENARIO_S["c"], bulletin
                )
                rows.append(("c", CLUSTERS, None, result))
            counted = api_requests_counted(port)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report(rows, args, built, time.monotonic() - began)
    sent = sum(len(v) for r in rows for v in r[3]["latency"].values())
    warm = sum(len(v) for v in warm_up["latency"].values())
    print(
        f"server side: /metrics (prometheus multiprocess mode, all {args.workers} workers) "
        f"counted {counted:,.0f} station API requests; the clients had answers to "
        f"{sent + warm:,} ({warm:,} of them in a 1 s warm-up)"
    )
    capacity = next(r for r in rows if r[0] == "max")[3]
    per_minute = capacity["done"] / capacity["seconds"] * POLL_S
    errors = sum(sum(r[3]["errors"].values()) for r in rows)
    return 0 if errors == 0 and per_minute >= FLOOR else 1


def report(rows, args, built: float, took: float) -> None:
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"load: gunicorn {args.workers} workers x {args.threads} threads (gthread), {database}, "
        f"{CLUSTERS:,} stations x {PLAYS} plays (built in {built:.0f} s); "
        f"{CLIENT_PROCESSES} client processes x {CONNECTIONS} keep-alive connections; "
        f"{os.cpu_count()} cores shared by server and clients"
    )
    print(
        f"{'scenario':<34}{'offered/s':>10}{'achieved/s':>11}{'requests':>10}"
        f"{'req/s':>8}  {'latency p50 / p99 ms by request':<46}{'errors':>7}"
    )
    titles = {
        "a": f"a {COMMUNES:,} communes, 1 poll/min",
        "b": f"b {CLUSTERS:,} clusters, 1 poll/min",
        "max-manifest": "max: manifest polls alone",
        "max": "max: agent-minutes flat out",
        "c": "c new bulletin to all (200+audio)",
    }
    for name, _agents, rate, result in rows:
        requests = sum(len(v) for v in result["latency"].values())
        achieved = result["done"] / result["seconds"]
        latency = "; ".join(
            f"{kind} {percentile(v, 0.5):.1f}/{percentile(v, 0.99):.1f}"
            for kind, v in sorted(result["latency"].items())
        )
        offered = f"{rate:,.1f}" if rate else "max"
        errors = sum(result["errors"].values())
        print(
            f"{titles[name]:<34}{offered:>10}{achieved:>11,.1f}{requests:>10,}"
            f"{requests / result['seconds']:>8,.0f}  {latency:<46}{errors:>7}"
        )
        for kind, count in sorted(result["errors"].items()):
            print(f"    error: {kind}: {count}")
    capacity = next(r for r in rows if r[0] == "max")[3]
    per_minute = capacity["done"] / capacity["seconds"] * POLL_S
    bulletin = next(r for r in rows if r[0] == "c")[3]
    delivered = bulletin["done"] / bulletin["seconds"]
    megabytes = bulletin["bytes"] / bulletin["seconds"] / 1e6
    print(
        "(achieved/s: agent-minutes completed per second; an agent-minute is a conditional "
        "manifest GET and a heartbeat POST, or in c a manifest GET and an audio download)"
    )
    alone = next(r for r in rows if r[0] == "max-manifest")[3]
    print(
        f"verdict: one {os.cpu_count()}-core machine serves {per_minute:,.0f} polling agents "
        f"per minute (floor {FLOOR:,}: ratio {per_minute / FLOOR:.1f}; against {CLUSTERS:,} "
        f"clusters: ratio {per_minute / CLUSTERS:.2f}, i.e. {math.ceil(CLUSTERS / per_minute)} "
        f"such machines); manifest polls alone: "
        f"{alone['done'] / alone['seconds'] * POLL_S:,.0f} per minute"
    )
    print(
        f"bulletin: a bulletin to all reaches {delivered:,.0f} stations/s "
        f"({megabytes:,.0f} MB/s of audio from Python): {COMMUNES:,} communes in "
        f"{COMMUNES / delivered:,.0f} s, {CLUSTERS:,} clusters in {CLUSTERS / delivered / 60:,.1f} "
        f"min"
    )
    print(f"load: bench took {took:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
