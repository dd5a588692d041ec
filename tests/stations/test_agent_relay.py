"""A relay played by a real agent process, from a real server's manifest, of a real
Icecast stream (the `icecast` fixture) fed by ffmpeg.

The agent's null player runs at SCALE, which shortens a relay's slot as it does a file:
a 3-minute relay lasts 9 s and the 84 s reminder 4.2 s. The stream itself is live.
"""

import json
import sqlite3
import threading
import time
from contextlib import closing
from datetime import timedelta

import pytest
from sqlmodel import Session

from broadcaster.audio.render import store_for
from broadcaster.core import db
from broadcaster.core.dbtypes import utcnow
from broadcaster.core.events import EventKind
from broadcaster.core.models import (
    AudioFile,
    Occurrence,
    OccurrenceStatus,
    StreamSource,
    StreamStatus,
)
from broadcaster.core.priority import Priority
from broadcaster.onair.players import NullPlayer
from broadcaster.onair.playout import READY, Cue
from broadcaster.onair.reasons import relay_detail_vi
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from broadcaster.stations import api as stationapi
from broadcaster.stations.agent import runner as agent
from tests import stationapi_support as support
from tests.helpers import free_port, wait_until

OWN = "HUE-THUAN-AN"
SCALE = 0.05
SLOT_MIN = 3


@pytest.fixture(scope="module")
def studio(tmp_path_factory, databases, demo_template):
    """An approved stream, a relay of it for HUE-THUAN-AN with the daily reminder as its
    fallback, an emergency schedule, the reminder's audio rendered once, and a token."""
    facts = {}

    def prepare(session, settings):
        stream = StreamSource(
            name="VOV1", url="http://127.0.0.1:1/vov1.mp3", status=StreamStatus.APPROVED
        )
        session.add(stream)
        session.flush()
        reminder = support.schedule_for(session, support.DAILY, [OWN])
        parked = support.add_occurrence(
            session, settings, reminder, OWN, utcnow() + timedelta(days=3)
        )
        relay = save_schedule(
            session=session,
            data=ScheduleInput(
                name="Tiếp sóng VOV1",
                script=None,
                stream=stream,
                duration_min=SLOT_MIN,
                fallback_script=support.approved(session, support.DAILY),
                kind="weekly",
                weekdays=list(range(7)),
                times=["03:00"],
                station_ids=[support.station(session, OWN).id],
            ),
            actor=support.user(session, "approver"),
        )
        emergency = support.schedule_for(session, support.DAILY, [OWN], priority=Priority.EMERGENCY)
        facts.update(
            stream_id=stream.id,
            relay_id=relay.id,
            emergency_id=emergency.id,
            version_id=parked.version_id,
            audio_id=parked.audio_id,
            token=stationapi.rotate_token(session, support.station(session, OWN)),
        )

    template = support.make_template(
        databases, tmp_path_factory.mktemp("relaystudio"), demo_template.url, prepare
    )
    return template, facts


class Site:
    def __init__(self, folder, studio, stream_url: str) -> None:
        template, self.facts = studio
        self.folder = folder
        self.settings = template.copy_to(folder / "server")
        self.engine = db.make_engine(self.settings.database_url)
        with Session(self.engine) as session:
            stream = session.get(StreamSource, self.facts["stream_id"])
            stream.url = stream_url
            session.add(stream)
            session.commit()
            self.fallback = session.get(AudioFile, self.facts["audio_id"])
        self.cache = folder / "station-cache"

    def add(self, schedule_id: int, at, priority: int = Priority.NORMAL) -> int:
        # Reads, then writes while the server and agent write: take the lock up front, or
        # SQLite refuses the upgrade at once ("database is locked") if one committed between.
        with Session(db.writer(self.engine)) as session:
            occurrence = Occurrence(
                schedule_id=schedule_id,
                station_id=support.station(session, OWN).id,
                at=at,
                priority=priority,
                version_id=self.facts["version_id"],
                audio_id=self.facts["audio_id"],
                status=OccurrenceStatus.RENDERED,
            )
            session.add(occurrence)
            session.commit()
            return occurrence.id

    def occurrence(self, occurrence_id: int) -> Occurrence:
        with Session(self.engine) as session:
            return session.get(Occurrence, occurrence_id)

    def events(self, occurrence_id: int) -> list[tuple[str, str]]:
        return [
            (e.kind, e.detail) for e in support.events_of(self.settings, occurrence_id) if e.uid
        ]

    def kinds(self, occurrence_id: int) -> list[str]:
        return [kind for kind, _ in self.events(occurrence_id)]

    def log(self) -> str:
        path = self.folder / "agent.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def on_air(tmp_path, studio, icecast):
    """The stream live on Icecast, the server up, an agent running: yields (site, feed)."""
    feed = icecast.feed("/vov1.mp3")
    site = Site(tmp_path, studio, feed.url)
    server = support.Server(site.settings).start()
    agent = support.start_agent(
        server.url, site.facts["token"], site.cache, time_scale=SCALE, log=tmp_path / "agent.log"
    )
    try:
        yield site, feed
    finally:
        if agent.poll() is None:
            support.stop(agent)
        server.stop()
        site.engine.dispose()


def test_a_cut_stream_falls_back_resumes_and_the_relay_ends_with_its_slot(on_air):
    site, feed = on_air
    relay = site.add(site.facts["relay_id"], support.soon(2))
    wait_until(lambda: EventKind.RELAY_CONNECTED in site.kinds(relay), timeout=20)
    time.sleep(1.0)
    feed.stop()
    wait_until(lambda: EventKind.RELAY_FALLBACK in site.kinds(relay), timeout=10)
    time.sleep(1.0)
    feed.start(wait=False)
    wait_until(lambda: EventKind.FINISHED in site.kinds(relay), timeout=30)
    assert site.kinds(relay) == [
        EventKind.STARTED,
        EventKind.RELAY_CONNECTED,
        EventKind.RELAY_DROPPED,
        EventKind.RELAY_FALLBACK,
        EventKind.RELAY_RESTORED,
        EventKind.FINISHED,
    ], site.log()
    details = dict(site.events(relay))
    assert all(relay_detail_vi(detail) for detail in details.values())  # the log reads them
    # The fallback was in the agent's cache (fetched with the manifest) and played.
    assert details[EventKind.RELAY_FALLBACK] == (
        "playing the fallback bulletin until the stream is back"
    )
    summary = details[EventKind.FINISHED]
    assert summary.startswith("relayed ") and ", 1 drop, fallback " in summary, summary
    slot = SLOT_MIN * 60 * SCALE
    occurrence = site.occurrence(relay)
    assert occurrence.status == OccurrenceStatus.PLAYED
    assert occurrence.finished_at - occurrence.at == pytest.approx(
        timedelta(seconds=slot), abs=timedelta(seconds=1.5)
    )


def test_a_relay_that_went_on_air_before_its_fallback_arrived_still_falls_back_to_it(on_air):
    # The server cannot give the fallback yet (its file is away), so the relay starts
    # without it; the agent must go on fetching it during the slot, not only before.
    site, feed = on_air
    stored = store_for(site.settings).local(site.fallback)
    away = stored.with_name(stored.name + ".away")
    stored.rename(away)
    relay = site.add(site.facts["relay_id"], support.soon(2))
    wait_until(lambda: EventKind.RELAY_CONNECTED in site.kinds(relay), timeout=20)
    cached = site.cache / "audio" / f"{site.fallback.sha256}.mp3"
    assert not cached.exists()
    away.rename(stored)
    wait_until(cached.is_file, timeout=10)
    feed.stop()
    wait_until(lambda: EventKind.RELAY_FALLBACK in site.kinds(relay), timeout=10)
    assert dict(site.events(relay))[EventKind.RELAY_FALLBACK] == (
        "playing the fallback bulletin until the stream is back"
    ), site.log()


def test_an_emergency_interrupts_the_relay_plays_and_the_relay_resumes(on_air):
    site, _ = on_air
    relay = site.add(site.facts["relay_id"], support.soon(2))
    wait_until(lambda: EventKind.RELAY_CONNECTED in site.kinds(relay), timeout=20)
    time.sleep(0.5)
    emergency = site.add(site.facts["emergency_id"], utcnow(), priority=Priority.EMERGENCY)
    wait_until(lambda: EventKind.FINISHED in site.kinds(relay), timeout=30)
    assert site.kinds(relay) == [
        EventKind.STARTED,
        EventKind.RELAY_CONNECTED,
        EventKind.RELAY_PAUSED,
        EventKind.RELAY_RESUMED,
        EventKind.RELAY_CONNECTED,
        EventKind.FINISHED,
    ], site.log()
    assert site.kinds(emergency) == [EventKind.STARTED, EventKind.FINISHED]
    events = support.events_of(site.settings, relay) + support.events_of(site.settings, emergency)
    at = {(e.occurrence_id, e.kind): e.at for e in events if e.uid}
    assert at[(relay, EventKind.RELAY_PAUSED)] <= at[(emergency, EventKind.STARTED)]
    assert at[(emergency, EventKind.FINISHED)] <= at[(relay, EventKind.RELAY_RESUMED)]
    assert site.occurrence(relay).status == OccurrenceStatus.PLAYED
    assert site.occurrence(emergency).status == OccurrenceStatus.PLAYED


# --- the agent's parts alone ------------------------------------------------------------


def an_agent(folder, clock=utcnow) -> agent.Agent:
    return agent.Agent(
        server=f"http://127.0.0.1:{free_port()}",
        token="t",
        cache_dir=folder,
        player=NullPlayer(time_scale=0.01),
        clock=clock,
    )


def test_a_relay_cut_off_by_a_crash_is_reported_failed_and_not_relayed_again(tmp_path):
    store = agent.LocalStore(tmp_path / "agent.db")
    store.record(5, EventKind.STARTED)
    store.record(5, EventKind.RELAY_DROPPED, "the stream dropped: the stream ended; retrying")
    store.close()
    crashed = an_agent(tmp_path)
    try:
        crashed._recover()
        assert crashed.store.state(5) == EventKind.FAILED
    finally:
        crashed.queue.close()
        crashed.store.close()


def test_an_item_that_waited_behind_a_relay_past_its_grace_is_skipped_not_played(tmp_path):
    now = utcnow()
    waiting = an_agent(tmp_path, clock=lambda: now)
    cue = Cue(
        at=now - timedelta(minutes=11),  # due 11 min ago; the relay before it just ended
        rank=0,
        schedule_id=1,
        occurrence_id=9,
        path=tmp_path,
        duration_s=60,
    )
    try:
        assert waiting._on_event(READY, cue, "") is False
        assert waiting.store.state(9) == EventKind.SKIPPED
        (event,) = waiting.store.unsent()
        assert event["detail"] == "not played: 660 s past its time, beyond the 10 min grace window"
    finally:
        waiting.queue.close()
        waiting.store.close()


def test_a_relay_the_agents_restart_cut_resumes_for_the_rest_of_its_slot(tmp_path, icecast):
    feed = icecast.feed("/vov1.mp3")
    at = utcnow() - timedelta(seconds=1)
    manifest = {
        "grace_s": 600,
        "items": [
            {
                "occurrence_id": 8,
                "at": at.isoformat(),
                "priority": "normal",
                "schedule_id": 1,
                "title": "VOV1",
                "kind": "relay",
                "stream": {"id": 1, "name": "VOV1", "url": feed.url},
                "duration_s": 60,  # 4 s at the null player's 1/15
                "fallback": None,
            }
        ],
    }
    crashed = agent.LocalStore(tmp_path / "agent.db")
    crashed.put(manifest=json.dumps(manifest), etag="x")
    crashed.record(8, EventKind.STARTED, "relay of VOV1")
    crashed.record(8, EventKind.RELAY_CONNECTED, f"connected to {feed.url}")
    crashed.close()
    restarted = agent.Agent(
        server=f"http://127.0.0.1:{free_port()}",  # unreachable: it plays from its cache
        token="t",
        cache_dir=tmp_path,
        player=NullPlayer(time_scale=1 / 15),
    )
    runner = threading.Thread(target=restarted.run)
    runner.start()
    try:
        wait_until(lambda: restarted.store.state(8) == EventKind.FINISHED, timeout=15)
    finally:
        restarted.stop()
        runner.join(timeout=20)
    with closing(sqlite3.connect(tmp_path / "agent.db")) as connection:
        outbox = connection.execute(
            "SELECT kind, detail FROM outbox WHERE occurrence_id = 8 ORDER BY seq"
        ).fetchall()
    assert [kind for kind, _ in outbox] == [
        EventKind.STARTED,
        EventKind.RELAY_CONNECTED,
        EventKind.RELAY_PAUSED,  # written by the restarted agent, with why
        EventKind.RELAY_RESUMED,
        EventKind.RELAY_CONNECTED,
        EventKind.FINISHED,
    ]
    assert outbox[2][1] == agent.RESTARTED
    assert relay_detail_vi(outbox[2][1])
