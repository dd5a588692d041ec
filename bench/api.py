"""Station API speed: manifest requests per second, compared with a bare Flask endpoint.

3,321 agent stations (Huế-scale commune systems), each with a token and 4 rendered plays
in the next 48 h, in a temporary SQLite database. Two servers run on the same WSGI server
(waitress, 8 threads, as `broadcaster web` runs) over loopback:

- the real app (web.create_app with the station API), GET /api/v1/manifest with a random
  station's token: full manifests (200) and, with the station's ETag in If-None-Match,
  unchanged ones (304);
- a bare Flask app whose endpoints return a small JSON object (200) or an empty 304: the
  ceiling for any Flask endpoint on this machine.

"ratio" is our requests per second over the bare endpoint's with the same status (target
≥ 0.6): waitress 3.0 closes the connection after every 304, so a 304 pays for a new TCP
connection whoever sends it. p99 is the 99th percentile latency seen by the client.

For the record, a trivial endpoint added to the real app (the same JSON as the bare one)
shows what the app's own request hooks cost (session cookie, login manager, CSRF,
security headers) apart from the station API.

Before measuring, every station's manifest is asked for once: a server that has run for a
while has built each one and keeps it in memory until a logged change concerns it
(broadcaster/stations/manifestcache.py), so the phases measure that steady state. The first pass,
where every manifest is read from the database, is printed for the record.

Load comes from 2 client processes with 4 keep-alive connections each; the five phases
alternate for 4 rounds of 1.2 s each (the whole run stays under 60 s).

Run: .venv/bin/python bench/api.py   (exits 1 if a target is missed)
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _stations

ROOT = Path(__file__).resolve().parents[1]
STATIONS = 3_321
PLAYS_PER_STATION = 4
PHASE_S = 1.2
ROUNDS = 4
WARMUP_S = 1.0
CLIENT_PROCESSES = 2
THREADS_PER_PROCESS = 4
TARGET_RATIO = 0.6

FULL_APP = """
import sys
from waitress import serve
from web import create_app
app = create_app()
from flask import jsonify
@app.get("/bench/ping")
def bench_ping():
    return jsonify(ok=True, status="bare")
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8, _quiet=True)
"""

BARE_APP = """
import sys
from flask import Flask, jsonify
from waitress import serve
app = Flask("bare")
@app.get("/ping")
def ping():
    return jsonify(ok=True, status="bare")
@app.get("/ping304")
def ping304():
    return "", 304
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8, _quiet=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_database(folder: Path) -> tuple[str, list[str]]:
    """A migrated database with STATIONS stations, tokens and plays; returns (url, tokens)."""
    url = f"sqlite:///{folder / 'bench.db'}"
    return url, _stations.build_database(url, STATIONS, PLAYS_PER_STATION)


def start_server(code: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    _stations.wait_for_port(process, port, log, timeout=30)
    return process


def _client_process(args) -> tuple[int, list[float], int]:
    """Hammer one URL from THREADS_PER_PROCESS keep-alive connections until the deadline."""
    port, requests, deadline, expect = args
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        bad = 0
        while time.time() < deadline:
            path, headers = requests[rng.randrange(len(requests))]
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                bad += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - started)
            if response.status != expect:
                bad += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [
        threading.Thread(target=worker, args=(os.getpid() * 100 + i,))
        for i in range(THREADS_PER_PROCESS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies, errors


def load(pool, port: int, requests: list, expect: int, seconds: float) -> tuple:
    """(seconds, latencies, errors) of `seconds` of load."""
    deadline = time.time() + seconds
    results = pool.map(_client_process, [(port, requests, deadline, expect)] * CLIENT_PROCESSES)
    return seconds, [x for r in results for x in r[1]], sum(r[2] for r in results)


def combine(rounds: list[tuple]) -> tuple[float, float, int]:
    """(requests per second, p99 ms, errors) over all rounds of one phase."""
    seconds = sum(r[0] for r in rounds)
    latencies = sorted(x for r in rounds for x in r[1])
    errors = sum(r[2] for r in rounds)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else float("nan")
    return len(latencies) / seconds, p99, errors


def warm_every_manifest(port: int, tokens: list[str]) -> float:
    """Ask once for every station's manifest; returns those first requests per second.

    A server that has run for a while has built each unchanged manifest once (it keeps
    them by content); the phases below measure that steady state, and this pass the
    first-request cost, for the record.
    """
    started = time.perf_counter()

    def fetch_all(share: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for token in share:
            connection.request(
                "GET", "/api/v1/manifest", headers={"Authorization": f"Bearer {token}"}
            )
            connection.getresponse().read()
        connection.close()

    threads = [
        threading.Thread(target=fetch_all, args=(tokens[i::THREADS_PER_PROCESS],))
        for i in range(THREADS_PER_PROCESS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(tokens) / (time.perf_counter() - started)


def etag_of(port: int, token: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/v1/manifest", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200, (response.status, body[:200])
    return response.getheader("ETag")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, tokens = build_database(folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
        env.update(
            BROADCASTER_ENV="test",
            BROADCASTER_DATABASE_URL=url,
            BROADCASTER_INSTANCE_DIR=str(folder / "instance"),
            BROADCASTER_AUDIO_DIR=str(folder / "audio"),
        )
        full_port, bare_port = free_port(), free_port()
        full = start_server(FULL_APP, full_port, env, folder / "full.log")
        bare = start_server(BARE_APP, bare_port, env, folder / "bare.log")
        try:
            cold_rps = warm_every_manifest(full_port, tokens)
            sample = tokens[:: max(1, len(tokens) // 300)]
            etags = {token: etag_of(full_port, token) for token in sample}
            plain = [("/api/v1/manifest", {"Authorization": f"Bearer {token}"}) for token in tokens]
            conditional = [
                (
                    "/api/v1/manifest",
                    {"Authorization": f"Bearer {token}", "If-None-Match": etags[token]},
                )
                for token in sample
            ]
            ping = [("/ping", {})]
            ping304 = [("/ping304", {})]
            phases = {
                "bare": (bare_port, ping, 200),
                "app": (full_port, [("/bench/ping", {})], 200),
                "200": (full_port, plain, 200),
                "bare304": (bare_port, ping304, 304),
                "304": (full_port, conditional, 304),
            }
            results: dict[str, list] = {name: [] for name in phases}
            with multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES) as pool:
                for port, requests, expect in phases.values():
                    load(pool, port, requests, expect, WARMUP_S)
                # Interleaved rounds, so a burst of other load on the machine hits all
                # three alike instead of skewing one phase.
                for _ in range(ROUNDS):
                    for name, (port, requests, expect) in phases.items():
                        results[name].append(load(pool, port, requests, expect, PHASE_S))
        finally:
            for process in (full, bare):
                process.terminate()
                process.wait(timeout=10)
    bare_rps, bare_p99, bare_errors = combine(results["bare"])
    b304_rps, b304_p99, b304_errors = combine(results["bare304"])
    app_rps, app_p99, app_errors = combine(results["app"])
    ok_rps, ok_p99, ok_errors = combine(results["200"])
    nm_rps, nm_p99, nm_errors = combine(results["304"])
    ok_ratio, nm_ratio = ok_rps / bare_rps, nm_rps / b304_rps
    print(
        f"bare Flask endpoint: 200 {bare_rps:,.0f} req/s, p99 {bare_p99:.1f} ms; "
        f"304 {b304_rps:,.0f} req/s, p99 {b304_p99:.1f} ms "
        f"(waitress 8 threads, {CLIENT_PROCESSES}x{THREADS_PER_PROCESS} keep-alive clients; "
        "waitress closes the connection after every 304)"
    )
    print(
        f"api: manifest 200: {ok_rps:,.0f} req/s, p99 {ok_p99:.1f} ms, "
        f"{STATIONS:,} stations x {PLAYS_PER_STATION} plays "
        f"(target ratio {TARGET_RATIO}) ratio {ok_ratio:.2f}"
    )
    print(
        f"api: manifest 304: {nm_rps:,.0f} req/s, p99 {nm_p99:.1f} ms, against the bare 304 "
        f"(target ratio {TARGET_RATIO}) ratio {nm_ratio:.2f}"
    )
    print(
        f"for the record: each station's first manifest request (built, then kept): "
        f"{cold_rps:,.0f} req/s from {THREADS_PER_PROCESS} connections"
    )
    print(
        f"for the record: a trivial endpoint of the real app: {app_rps:,.0f} req/s, "
        f"p99 {app_p99:.1f} ms ({app_rps / bare_rps:.2f} of the bare one); the manifest "
        f"is {ok_rps / app_rps:.2f} of it"
    )
    errors = bare_errors + b304_errors + app_errors + ok_errors + nm_errors
    if errors:
        print(f"api: {errors} requests failed or had the wrong status")
    print(f"api: bench took {time.monotonic() - began:.0f} s")
    passed = errors == 0 and ok_ratio >= TARGET_RATIO and nm_ratio >= TARGET_RATIO
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
