"""The station agent, run for real against a real server over loopback (and its parts alone).

Audio plays through the null player at BROADCASTER_AGENT_TIME_SCALE (an 84 s reminder
takes under 2 s); plays are put a few seconds ahead of now.
"""

import hashlib
import http.server
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from broadcaster.audio.render import store_for
from broadcaster.core import db
from broadcaster.core.config import PROJECT_ROOT, Settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AudioFile, Occurrence, OccurrenceStatus, StationBeat
from broadcaster.onair.players import NullPlayer
from broadcaster.stations import api as stationapi
from broadcaster.stations.agent import runner as agent
from broadcaster.stations.agent import store as agentstore
from tests import stationapi_support as support
from tests.helpers import free_port, wait_until

OWN = "HUE-THUAN-AN"
SCALE = 0.02  # 84 s of audio in 1.7 s


@pytest.fixture(scope="module")
def studio(tmp_path_factory, databases, demo_template):
    """A schedule for HUE-THUAN-AN, its audio rendered once, and the station's token."""
    facts = {}

    def prepare(session, settings):
        schedule = support.schedule_for(session, support.DAILY, [OWN])
        # Three days out: outside every manifest, there only to render the audio.
        parked = support.add_occurrence(
            session, settings, schedule, OWN, utcnow() + timedelta(days=3)
        )
        facts.update(
            schedule_id=schedule.id,
            version_id=parked.version_id,
            audio_id=parked.audio_id,
            token=stationapi.rotate_token(session, support.station(session, OWN)),
        )

    template = support.make_template(
        databases, tmp_path_factory.mktemp("studio"), demo_template.url, prepare
    )
    return template, facts


@dataclass
class Site:
    settings: Settings
    token: str
    schedule_id: int
    version_id: int
    audio: AudioFile
    audio_path: Path
    cache: Path
    folder: Path

    def add(self, at: datetime) -> int:
        """A rendered play of the daily reminder at `at`; returns its occurrence id."""
        engine = db.make_engine(self.settings.database_url)
        try:
            # The lock up front: a read then a write, while a server may be writing.
            with Session(db.writer(engine)) as session:
                occurrence = Occurrence(
                    schedule_id=self.schedule_id,
                    station_id=support.station(session, OWN).id,
                    at=at,
                    version_id=self.version_id,
                    audio_id=self.audio.id,
                    status=OccurrenceStatus.RENDERED,
                )
                session.add(occurrence)
                session.commit()
                return occurrence.id
        finally:
            engine.dispose()

    def server(self, port: int | None = None, **env: str) -> support.Server:
        return support.Server(
            self.settings, port=port, access_log=self.folder / "access.log", env=env
        )

    def agent(self, server_url: str, **options) -> subprocess.Popen:
        return support.start_agent(
            server_url,
            self.token,
            self.cache,
            time_scale=SCALE,
            log=self.folder / "agent.log",
            **options,
        )

    def server_kinds(self, occurrence_id: int) -> Counter:
        return Counter(e.kind for e in support.events_of(self.settings, occurrence_id) if e.uid)

    def local_kinds(self, occurrence_id: int) -> Counter:
        return Counter(kind for oid, kind, _ in local_outbox(self.cache) if oid == occurrence_id)

    def log(self) -> str:
        path = self.folder / "agent.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def site(tmp_path, studio):
    template, facts = studio
    settings = template.copy_to(tmp_path / "server")
    engine = db.make_engine(settings.database_url)
    with Session(engine) as session:
        audio = session.get(AudioFile, facts["audio_id"])
    engine.dispose()
    return Site(
        settings=settings,
        token=facts["token"],
        schedule_id=facts["schedule_id"],
        version_id=facts["version_id"],
        audio=audio,
        audio_path=store_for(settings).absolute(audio.path),
        cache=tmp_path / "station-cache",
        folder=tmp_path,
    )


def local_outbox(cache: Path) -> list[tuple[int, str, str]]:
    path = cache / "agent.db"
    if not path.exists():
        return []
    with closing(sqlite3.connect(path, timeout=5)) as connection:
        try:
            return connection.execute(
                "SELECT occurrence_id, kind, detail FROM outbox ORDER BY seq"
            ).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []


def cached(site: Site) -> Path:
    return site.cache / "audio" / f"{site.audio.sha256}.mp3"


def played_through(kinds: Counter) -> bool:
    return kinds["started"] >= 1 and kinds["finished"] >= 1


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# --- with a real server -------------------------------------------------------------------


def test_a_due_play_starts_on_time_and_the_server_hears_of_it_once(site):
    server = site.server().start()
    process = None
    try:
        occurrence_id = site.add(support.soon(4))
        process = site.agent(server.url)
        wait_until(lambda: played_through(site.server_kinds(occurrence_id)), timeout=20)
        assert rss_mb(process.pid) <= 80
        wait_until(lambda: beat(site.settings), timeout=10)
        assert stop_agent(process) == 0, site.log()
        assert "agent: stopped" in site.log()
    finally:
        if process and process.poll() is None:
            process.kill()
        server.stop()
    assert site.server_kinds(occurrence_id) == Counter(started=1, finished=1), site.log()
    engine = db.make_engine(site.settings.database_url)
    with Session(engine) as session:
        occurrence = session.get(Occurrence, occurrence_id)
        started = occurrence.started_at
        assert occurrence.status == OccurrenceStatus.PLAYED and occurrence.late is False
        assert occurrence.at <= started < occurrence.at + timedelta(seconds=1.5)  # on time
        assert (occurrence.finished_at - started).total_seconds() == pytest.approx(
            site.audio.duration_s * SCALE, abs=1.0
        )
    engine.dispose()
    assert hashlib.sha256(cached(site).read_bytes()).hexdigest() == site.audio.sha256
    (event,) = [e for e in support.events_of(site.settings, occurrence_id) if e.kind == "started"]
    assert re.fullmatch(r"lateness \d+\.\d ms", event.detail), event.detail  # the as-run log


def test_an_aplay_agent_sends_its_first_audio_to_the_sink_after_the_instant(site, tmp_path):
    """aplay into an ALSA file sink (no sound card here): heard on time, and all of it."""
    from broadcaster.onair.players import BYTES_PER_SECOND
    from tests.alsasink import FileSinks

    server = site.server().start()
    process = None
    with FileSinks(tmp_path / "sinks", ["station"]) as sinks:
        try:
            # Room for the agent to start, sync, fetch and prepare (LEAD) on a loaded machine.
            at = support.soon(8)
            occurrence_id = site.add(at)
            process = site.agent(server.url, player="aplay", env=sinks.env_default("station"))
            wait_until(lambda: played_through(site.server_kinds(occurrence_id)), timeout=30)
            wait_until(lambda: sinks.plays("station"), timeout=5)
        finally:
            if process and process.poll() is None:
                stop_agent(process)
            server.stop()
        (heard,) = sinks.plays("station")
    # The agent plays by the server's clock as it measured it, to within half the network's
    # part of a loopback round trip (agent/clock.py): well under a millisecond.
    assert at.timestamp() - 0.001 <= heard.first_at < at.timestamp() + 1.5, site.log()
    assert heard.nbytes >= (site.audio.duration_s - 1) * BYTES_PER_SECOND  # played through
    (event,) = [e for e in support.events_of(site.settings, occurrence_id) if e.kind == "started"]
    assert re.fullmatch(r"lateness \d+\.\d ms", event.detail), event.detail


def beat(settings):
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            found = session.exec(select(StationBeat)).first()
            return found and found.player_state in ("idle", "playing") and found.cache_files
    finally:
        engine.dispose()


def stop_agent(process, sig=signal.SIGTERM) -> int:
    return support.stop(process, sig, timeout=15)


def test_it_plays_from_its_cache_while_the_server_is_down_and_reports_later(site):
    server = site.server().start()
    port = server.port
    first, second = site.add(support.soon(5)), site.add(support.soon(8))
    process = site.agent(server.url)
    try:
        wait_until(lambda: cached(site).exists(), timeout=10)
        server.stop()  # the server goes away before either play
        wait_until(
            lambda: (
                played_through(site.local_kinds(first)) and played_through(site.local_kinds(second))
            ),
            timeout=20,
        )
        assert site.server_kinds(first) == Counter() and site.server_kinds(second) == Counter()
        server = site.server(port).start()  # back on the same address
        wait_until(
            lambda: (
                played_through(site.server_kinds(first))
                and played_through(site.server_kinds(second))
            ),
            timeout=20,
        )
        time.sleep(1.5)  # a few more upload rounds: nothing may arrive twice
    finally:
        stop_agent(process)
        server.stop()
    assert site.server_kinds(first) == Counter(started=1, finished=1), site.log()
    assert site.server_kinds(second) == Counter(started=1, finished=1), site.log()
    assert "playing from the cache" in site.log() and "server reachable again" in site.log()


def test_after_a_crash_it_neither_plays_again_nor_forgets_what_is_due(site):
    server = site.server().start()
    first, second = site.add(support.soon(4)), site.add(support.soon(13))
    process = site.agent(server.url)
    try:
        wait_until(lambda: played_through(site.local_kinds(first)), timeout=15)
        stop_agent(process, signal.SIGKILL)  # power cut: no goodbye
        server.stop()
        # Back up while the server is still down: only the cached manifest says what to play.
        process = site.agent(f"http://127.0.0.1:{free_port()}")
        wait_until(lambda: played_through(site.local_kinds(second)), timeout=20)
        stop_agent(process)
        server = site.server().start()
        process = site.agent(server.url)
        wait_until(
            lambda: (
                played_through(site.server_kinds(first))
                and played_through(site.server_kinds(second))
            ),
            timeout=20,
        )
        time.sleep(1.5)
    finally:
        stop_agent(process)
        server.stop()
    assert site.local_kinds(first) == Counter(started=1, finished=1), site.log()
    assert site.local_kinds(second) == Counter(started=1, finished=1), site.log()
    assert site.server_kinds(first) == Counter(started=1, finished=1)
    assert site.server_kinds(second) == Counter(started=1, finished=1)


def test_it_sends_nothing_while_the_server_says_429_and_reports_once_it_may(site):
    # 6 requests a minute after a burst of 3: Retry-After is about 10 s.
    server = site.server(BROADCASTER_API_RATE_PER_MINUTE="6", BROADCASTER_API_BURST="3").start()
    occurrence_id = site.add(support.soon(3))
    process = site.agent(server.url)
    try:
        wait_until(lambda: "429" in [r[3] for r in server.requests()], timeout=15)
        seen = len(server.requests())
        wait_until(lambda: played_through(site.local_kinds(occurrence_id)), timeout=15)
        time.sleep(4)  # well inside the Retry-After
        assert len(server.requests()) == seen, server.requests()  # not one request more
        wait_until(lambda: played_through(site.server_kinds(occurrence_id)), timeout=40)
    finally:
        stop_agent(process)
        server.stop()
    assert "asks to slow down" in site.log()
    statuses = [r[3] for r in server.requests()]
    assert statuses.count("429") <= 5, statuses  # one per Retry-After, not one per poll


def test_a_corrupted_cached_file_is_detected_and_fetched_again(site):
    server = site.server().start()
    occurrence_id = site.add(support.soon(9))
    process = site.agent(server.url)
    audio_path = f"/api/v1/audio/{site.audio.sha256}.mp3"
    try:
        wait_until(lambda: cached(site).exists(), timeout=10)
        with open(cached(site), "r+b") as handle:
            handle.seek(2000)
            handle.write(b"\x00" * 64)
        wait_until(
            lambda: (
                len([r for r in server.requests() if r[1] == audio_path]) >= 2
                and cached(site).exists()
                and hashlib.sha256(cached(site).read_bytes()).hexdigest() == site.audio.sha256
            ),
            timeout=10,
        )
        wait_until(lambda: played_through(site.server_kinds(occurrence_id)), timeout=20)
    finally:
        stop_agent(process)
        server.stop()
    assert "corrupt" in site.log()
    assert site.server_kinds(occurrence_id) == Counter(started=1, finished=1)


def test_an_interrupted_download_is_resumed_with_a_range_request(site):
    data = site.audio_path.read_bytes()
    half = len(data) // 2
    part = site.cache / "audio" / f"{site.audio.sha256}.mp3.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:half])  # what the agent had when the line dropped
    server = site.server().start()
    site.add(support.soon(30))
    process = site.agent(server.url)
    try:
        wait_until(lambda: cached(site).exists(), timeout=10)
    finally:
        stop_agent(process)
        server.stop()
    assert cached(site).read_bytes() == data and not part.exists()
    audio_requests = [r for r in server.requests() if r[1].startswith("/api/v1/audio/")]
    assert audio_requests == [
        ("GET", f"/api/v1/audio/{site.audio.sha256}.mp3", f"bytes={half}-", "206")
    ]


def test_a_play_past_the_grace_window_is_skipped_with_a_reason(site):
    """Offline from the start: the cached manifest and cached audio are all it has."""
    now = utcnow()
    prepare_offline_cache(site)
    item = manifest_item(site)
    manifest = {  # no grace_s, as from an older server: the agent's default holds
        "items": [
            {**item, "occurrence_id": 901, "at": (now - timedelta(minutes=11)).isoformat()},
            {**item, "occurrence_id": 902, "at": (now - timedelta(minutes=2)).isoformat()},
            {**item, "occurrence_id": 903, "at": (now + timedelta(seconds=3)).isoformat()},
        ]
    }
    store = agent.LocalStore(site.cache / "agent.db")
    store.put(manifest=json.dumps(manifest), etag='"x"')
    store.close()
    process = site.agent(f"http://127.0.0.1:{free_port()}")
    try:
        wait_until(lambda: played_through(site.local_kinds(903)), timeout=15)
    finally:
        assert stop_agent(process) == 0
    outbox = local_outbox(site.cache)
    skipped = [(oid, detail) for oid, kind, detail in outbox if kind == "skipped"]
    assert [oid for oid, _ in skipped] == [901]
    assert "grace window" in skipped[0][1] and "past its time" in skipped[0][1]
    assert site.local_kinds(902) == Counter(started=1, finished=1)  # late, but within grace
    assert site.local_kinds(903) == Counter(started=1, finished=1)


def test_a_manifest_with_a_shorter_grace_window_has_the_agent_skip_sooner(site):
    """The server's grace_s rules, not the agent's 10 min default: 2 min late is too late."""
    now = utcnow()
    prepare_offline_cache(site)
    item = manifest_item(site)
    manifest = {
        "grace_s": 60,
        "items": [
            {**item, "occurrence_id": 911, "at": (now - timedelta(minutes=2)).isoformat()},
            {**item, "occurrence_id": 912, "at": (now + timedelta(seconds=3)).isoformat()},
        ],
    }
    store = agent.LocalStore(site.cache / "agent.db")
    store.put(manifest=json.dumps(manifest), etag='"x"')
    store.close()
    process = site.agent(f"http://127.0.0.1:{free_port()}")
    try:
        wait_until(lambda: played_through(site.local_kinds(912)), timeout=15)
    finally:
        assert stop_agent(process) == 0
    skipped = [(oid, detail) for oid, kind, detail in local_outbox(site.cache) if kind == "skipped"]
    assert [oid for oid, _ in skipped] == [911]
    assert "1 min grace window" in skipped[0][1]
    assert site.local_kinds(911) == Counter(skipped=1)
    assert site.local_kinds(912) == Counter(started=1, finished=1)


def prepare_offline_cache(site):
    site.cache.mkdir()
    (site.cache / "audio").mkdir()
    shutil.copyfile(site.audio_path, cached(site))


def manifest_item(site) -> dict:
    return {
        "occurrence_id": 0,
        "at": "",
        "priority": "normal",
        "schedule_id": site.schedule_id,
        "title": "Lời nhắc",
        "version": 1,
        "audio_url": f"/api/v1/audio/{site.audio.sha256}.mp3",
        "sha256": site.audio.sha256,
        "size": site.audio.size,
        "duration_s": site.audio.duration_s,
        "repeat": 1,
    }


def test_the_command_line_needs_a_token_and_an_http_server(tmp_path):
    for args, message in (
        (["--server", "http://x", "--cache", str(tmp_path)], "token is required"),
        (["--server", "ftp://x", "--token", "t", "--cache", str(tmp_path)], "http"),
        (
            [
                "--server",
                "http://x",
                "--token",
                "t",
                "--cache",
                str(tmp_path),
                "--sync-interval",
                "0",
            ],
            "greater than 0",
        ),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "broadcaster.stations.agent", *args],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_the_agent_imports_neither_flask_nor_sqlalchemy():
    code = (
        "import sys, broadcaster.stations.agent.runner; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'flask', 'sqlalchemy', 'sqlmodel', 'werkzeug', 'alembic', 'pydantic'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.stdout.strip() == "[]", result.stderr


# --- its parts alone ------------------------------------------------------------------------


class FlakyAudio(http.server.BaseHTTPRequestHandler):
    """Serves DATA with Range support; the first full request drops after half the bytes."""

    data = b""
    ranges: list[str] = []
    dropped = False

    def do_GET(self):  # noqa: N802 (http.server's naming)
        requested = self.headers.get("Range")
        type(self).ranges.append(requested or "")
        start = int(requested.split("=")[1].rstrip("-")) if requested else 0
        body = self.data[start:]
        self.send_response(206 if requested else 200)
        self.send_header("Content-Length", str(len(body)))
        if requested:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(self.data) - 1}/{len(self.data)}"
            )
        self.end_headers()
        if not type(self).dropped:
            type(self).dropped = True
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_client_resumes_a_download_cut_off_midway(tmp_path):
    data = bytes(range(256)) * 400
    FlakyAudio.data, FlakyAudio.ranges, FlakyAudio.dropped = data, [], False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyAudio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = agent.Client(f"http://127.0.0.1:{server.server_address[1]}", "t", timeout=5)
        cache = agent.AudioCache(tmp_path, client)
        play = agent.ManifestItem(
            occurrence_id=1,
            at=utcnow(),
            priority=0,
            schedule_id=1,
            title="t",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            duration_s=1.0,
            repeat=1,
            audio_url="/a.mp3",
        )
        with pytest.raises(OSError):
            cache.fetch(play)  # the connection drops half-way
        kept = (tmp_path / f"{play.sha256}.mp3.part").stat().st_size
        assert kept == len(data) // 2
        assert cache.fetch(play).read_bytes() == data
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert FlakyAudio.ranges == ["", f"bytes={kept}-"]


def test_the_local_store_keeps_events_until_they_are_sent(tmp_path):
    store = agent.LocalStore(tmp_path / "agent.db")
    try:
        first = store.record(7, "started")
        store.record(7, "finished", "x" * 5000)
        assert store.state(7) == "finished" and store.handled() == {7}
        batch = store.unsent()
        assert [e["kind"] for e in batch] == ["started", "finished"]
        assert batch[0]["id"] == first and len(batch[1]["detail"]) == agentstore.MAX_DETAIL
        datetime.fromisoformat(batch[0]["at"])  # ISO 8601 with its offset
        store.mark_sent([first])
        assert [e["kind"] for e in store.unsent()] == ["finished"] and store.pending() == 1
    finally:
        store.close()


def test_the_timer_fires_each_key_at_its_time_and_not_after_a_cancel():
    fired = []
    timer = agent.Timer(lambda key: fired.append((key, time.monotonic())), utcnow)
    timer.start()
    started = time.monotonic()
    try:
        now = datetime.now(UTC)
        timer.set(2, now + timedelta(seconds=0.4))
        timer.set(1, now + timedelta(seconds=0.2))
        timer.set(3, now + timedelta(seconds=0.3))
        timer.cancel(3)
        timer.set(4, now - timedelta(seconds=5))  # already due: at once
        wait_until(lambda: len(fired) >= 3, timeout=3)
        time.sleep(0.3)
    finally:
        timer.stop()
    assert [key for key, _ in fired] == [4, 1, 2]
    assert 0.15 <= fired[1][1] - started <= 0.5


def test_manifest_items_it_cannot_read_are_skipped_not_fatal():
    good = {
        "occurrence_id": 1,
        "at": "2026-11-30T06:00:00+07:00",
        "sha256": "a" * 64,
        "size": 10,
        "duration_s": 1.5,
        "audio_url": "/api/v1/audio/" + "a" * 64 + ".mp3",
    }
    plays = agent.parse_manifest(
        {
            "items": [
                good,
                {**good, "occurrence_id": 2, "at": "2026-11-30T06:00:00"},  # no offset
                {**good, "occurrence_id": 3, "sha256": "../x"},
                {"occurrence_id": 4},
            ]
        }
    )
    assert list(plays) == [1]
    assert plays[1].at == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)


def test_a_null_player_can_be_injected_with_a_time_scale(monkeypatch):
    assert agent.build_player("null", time_scale=0.5).time_scale == 0.5
    monkeypatch.setenv(agent.TIME_SCALE_ENV, "0.25")
    player = agent.build_player("null")
    assert isinstance(player, NullPlayer) and player.time_scale == 0.25


@contextmanager
def restarted_after_ready(cache: Path, *ready: int):
    """An agent (not run) on a cache whose played set holds `ready` as READY."""
    store = agent.LocalStore(cache / "agent.db")
    for occurrence_id in ready:
        store.mark(occurrence_id, agent.READY)
    store.close()
    restarted = agent.Agent(
        server=f"http://127.0.0.1:{free_port()}",
        token="t",
        cache_dir=cache,
        player=NullPlayer(time_scale=0.01),
    )
    try:
        yield restarted
    finally:
        restarted.queue.close()
        restarted.store.close()
        restarted.journal.close()


def test_a_crash_in_the_instant_before_a_play_never_plays_it_twice(tmp_path):
    """READY is written before the sound: after a restart the play is reported, not replayed."""
    with restarted_after_ready(tmp_path, 7) as crashed:
        crashed._recover()
        assert crashed.store.state(7) == "failed"
        (event,) = crashed.store.unsent()  # READY itself is never sent
        assert event["kind"] == "failed" and "not played again" in event["detail"]


def test_a_crash_after_ready_but_before_the_sound_plays_it_after_the_restart(tmp_path):
    """The release journal names 8, whose sound had left, and not 7, still waiting."""
    (tmp_path / "released.log").write_text("8\n")
    with restarted_after_ready(tmp_path, 7, 8) as restarted:
        restarted._recover()
        assert restarted.store.state(7) is None  # free to play, if still within grace
        assert restarted.store.state(8) == "failed"
        (event,) = restarted.store.unsent()
        assert event["occurrence_id"] == 8 and "not played again" in event["detail"]
        assert (tmp_path / "released.log").read_text() == ""  # settled: a new journal


def test_the_timer_fires_a_lead_time_before_each_play():
    fired = []
    timer = agent.Timer(
        lambda key: fired.append(datetime.now(UTC)), utcnow, lead=timedelta(seconds=0.5)
    )
    timer.start()
    at = datetime.now(UTC) + timedelta(seconds=0.8)
    try:
        timer.set(1, at)
        wait_until(lambda: fired, timeout=3)
    finally:
        timer.stop()
    assert fired[0] < at - timedelta(seconds=0.2)


def test_a_play_cut_off_by_a_crash_is_reported_failed_and_not_played_again(tmp_path):
    store = agent.LocalStore(tmp_path / "agent.db")
    store.record(5, "started")
    store.close()
    crashed = agent.Agent(
        server=f"http://127.0.0.1:{free_port()}",
        token="t",
        cache_dir=tmp_path,
        player=NullPlayer(time_scale=0.01),
    )
    try:
        crashed._recover()
        assert crashed.store.state(5) == "failed"
        kinds = [(e["occurrence_id"], e["kind"]) for e in crashed.store.unsent()]
        assert kinds == [(5, "started"), (5, "failed")]
        assert "stopped during the play" in crashed.store.unsent()[1]["detail"]
    finally:
        crashed.queue.close()
        crashed.store.close()
