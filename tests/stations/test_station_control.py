"""The amplifier, the volume and the province's commands, with a real agent and a real server.

The agent is a real process (python -m broadcaster.stations.agent) against the web app
served by waitress on loopback. Its amplifier hooks are a shell script that appends what
it was asked and when; amixer is an executable on the agent's PATH that records its
arguments (this machine has no sound card). The admin's page is the real web app on the
same database.
"""

import http.server
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from broadcaster.core import db
from broadcaster.core.models import (
    Area,
    AuditEntry,
    Occurrence,
    OccurrenceStatus,
    StationBeat,
    StationCommand,
)
from broadcaster.core.priority import Priority
from broadcaster.onair import collision
from broadcaster.onair.players import NullPlayer
from broadcaster.onair.schedules import ScheduleInput, save_schedule
from broadcaster.stations.agent import runner
from broadcaster.stations.agent.commands import RESTART_EXIT
from tests import stationapi_support as support
from tests.helpers import csrf, wait_until
from tests.stations.test_agent import OWN, Site, site, stop_agent, studio  # noqa: F401

PAGE = f"/stations/{OWN}"


@pytest.fixture
def hardware(tmp_path):
    """The agent's options for a recording amplifier hook and mixer, and what they record."""
    folder = tmp_path / "hw"
    folder.mkdir()
    calls = folder / "amp.log"
    hook = folder / "amp.sh"
    hook.write_text(f'#!/bin/sh\necho "$1 $(date +%s.%N)" >> {calls}\n')
    hook.chmod(0o755)
    mixer_log = folder / "amixer.log"
    amixer = folder / "amixer"
    amixer.write_text(f'#!/bin/sh\necho "$@" >> {mixer_log}\n')
    amixer.chmod(0o755)

    class Hardware:
        args = (
            "--amp-on-command",
            f"{hook} on",
            "--amp-off-command",
            f"{hook} off",
            "--amp-lead",
            "2",
            "--amp-tail",
            "1",
            "--volume-normal",
            "70",
            "--volume-priority",
            "85",
            "--volume-emergency",
            "100",
        )
        env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}

        @staticmethod
        def amp() -> list[tuple[str, float]]:
            if not calls.exists():
                return []
            return [
                (w, float(t)) for w, t in (line.split() for line in calls.read_text().splitlines())
            ]

        @staticmethod
        def mixer() -> list[str]:
            return mixer_log.read_text().splitlines() if mixer_log.exists() else []

    return Hardware


def database(where: Site):
    engine = db.make_engine(where.settings.database_url)
    return engine, Session(engine, expire_on_commit=False)


def beat_of(where: Site) -> StationBeat | None:
    engine, session = database(where)
    with session:
        station = support.station(session, OWN)
        beat = session.get(StationBeat, station.id)
    engine.dispose()
    return beat


def off_beat(where: Site) -> StationBeat | None:
    beat = beat_of(where)
    return beat if beat is not None and beat.amplifier == "off" else None


def collide(where: Site, at: datetime) -> dict[str, int]:
    """Two priority items due together: the studio's (commune level) and a province-wide
    one; the station asks for commune items first (the province's default is the other
    way round). Returns their occurrence ids by level."""
    engine, session = database(where)
    with session:
        station = support.station(session, OWN)
        province = save_schedule(
            session=session,
            data=ScheduleInput(
                name="toàn tỉnh",
                script=support.approved(session, support.DAILY),
                kind="weekly",
                weekdays=list(range(7)),
                times=["03:00"],
                priority=Priority.PRIORITY,
                area_ids=[session.exec(select(Area).where(Area.kind == "province")).first().id],
            ),
            actor=support.user(session, "editor"),
        )
        collision.set_station_order(
            session, station=station, order=[collision.COMMUNE, collision.PROVINCE, 1], actor=None
        )
        ids = {}
        for level, schedule_id in (("province", province.id), ("commune", where.schedule_id)):
            occurrence = Occurrence(
                schedule_id=schedule_id,
                station_id=station.id,
                at=at,
                priority=Priority.PRIORITY,
                version_id=where.version_id,
                audio_id=where.audio.id,
                status=OccurrenceStatus.RENDERED,
            )
            session.add(occurrence)
            session.flush()
            ids[level] = occurrence.id
        session.commit()
    engine.dispose()
    return ids


def long_play(where: Site, at: datetime) -> int:
    """A normal item read three times over (5 s at the tests' time scale); its id."""
    engine, session = database(where)
    with session:
        station = support.station(session, OWN)
        schedule = save_schedule(
            session=session,
            data=ScheduleInput(
                name="ba lần",
                script=support.approved(session, support.DAILY),
                kind="weekly",
                weekdays=list(range(7)),
                times=["03:00"],
                repeat=3,
                station_ids=[station.id],
            ),
            actor=support.user(session, "editor"),
        )
        occurrence = Occurrence(
            schedule_id=schedule.id,
            station_id=station.id,
            at=at,
            version_id=where.version_id,
            audio_id=where.audio.id,
            status=OccurrenceStatus.RENDERED,
        )
        session.add(occurrence)
        session.commit()
        occurrence_id = occurrence.id
    engine.dispose()
    return occurrence_id


def plays(where: Site, *ids: int) -> list[Occurrence]:
    engine, session = database(where)
    with session:
        rows = [session.get(Occurrence, i) for i in ids]
    engine.dispose()
    return rows


def test_the_amplifier_is_on_before_the_first_item_and_off_after_the_last(site, hardware):  # noqa: F811
    server = site.server().start()
    process = None
    try:
        first = site.add(support.soon(5))
        # Back to back after it: the amplifier stays on; their order is the station's.
        colliding = collide(site, plays(site, first)[0].at + timedelta(seconds=2.2))
        process = site.agent(server.url, args=hardware.args, env=hardware.env)
        every = (first, *colliding.values())
        wait_until(lambda: all(site.server_kinds(i)["finished"] == 1 for i in every), timeout=25)
        wait_until(lambda: [w for w, _ in hardware.amp()][-2:] == ["on", "off"], timeout=10)
        beat = wait_until(lambda: off_beat(site), timeout=10)
    finally:
        if process is not None:
            stop_agent(process)
        server.stop()
    normal, commune, province = plays(site, first, colliding["commune"], colliding["province"])
    assert normal.finished_at <= commune.started_at < province.started_at, "commune first"
    calls = hardware.amp()
    ons = [t for w, t in calls if w == "on"]
    assert len(ons) == 1, calls  # on once for the three items
    switched_on = datetime.fromtimestamp(ons[0], UTC)
    lead = (normal.at - switched_on).total_seconds()
    assert 1.0 <= lead <= 3.0, f"switched on {lead:.2f} s before the item (lead 2 s)"
    switched_off = datetime.fromtimestamp(calls[-1][1], UTC)
    tail = (switched_off - province.finished_at).total_seconds()
    assert calls[-1][0] == "off" and 0.7 <= tail <= 3.0, (
        f"off {tail:.2f} s after the end (tail 1 s)"
    )
    # The normal item at the normal volume, the priority ones at theirs.
    assert hardware.mixer()[-2:] == ["-q sset Master 70%", "-q sset Master 85%"]
    assert (beat.amplifier, beat.mixer, beat.volume_percent) == ("off", "Master", 85)
    assert beat.amplifier_error == ""


def send(client, kind, **fields):
    return client.post(
        f"{PAGE}/commands",
        data={"csrf_token": csrf(client, PAGE), "kind": kind, **fields},
        follow_redirects=True,
    )


@pytest.fixture
def web(site):  # noqa: F811
    from web import create_app

    app = create_app({"SETTINGS": site.settings, "TESTING": True})
    yield app
    app.extensions["engine"].dispose()


def login(app, who):
    from tests.conftest import AuthActions

    client = app.test_client()
    AuthActions(client).login(who)
    return client


def command_rows(page: str) -> dict[int, str]:
    return {int(i): s for i, s in re.findall(r'data-command-id="(\d+)" data-state="(\w+)"', page)}


def results(where: Site) -> dict[int, tuple[str, str, str]]:
    engine, session = database(where)
    with session:
        rows = {c.id: (c.kind, c.state, c.result) for c in session.exec(select(StationCommand))}
    engine.dispose()
    return rows


def audit_actions(where: Site) -> list[tuple[str, str]]:
    engine, session = database(where)
    with session:
        rows = [
            (e.action, e.entity_id)
            for e in session.exec(
                select(AuditEntry)
                .where(AuditEntry.entity_type == "stationcommand")
                .order_by(AuditEntry.id)
            )
        ]
    engine.dispose()
    return rows


def test_commands_from_the_page_reach_the_agent_once_and_their_results_show(
    site,  # noqa: F811
    hardware,
    web,
):
    admin = login(web, "admin")
    for who, page in (("editor", PAGE), ("operator", "/portal")):
        client = login(web, who)
        token = csrf(client, page)
        refused = client.post(f"{PAGE}/commands", data={"csrf_token": token, "kind": "sync"})
        assert refused.status_code == 403
        assert "Không có quyền truy cập" in refused.get_data(as_text=True)
    bad = send(admin, "set_volume", percent="150").get_data(as_text=True)
    assert "Âm lượng phải là số nguyên từ 0 đến 100." in bad
    server = site.server().start()
    process = None
    try:
        process = site.agent(server.url, args=hardware.args, env=hardware.env)
        send(admin, "test_tone")
        send(admin, "set_volume", percent="55")
        send(admin, "amplifier_on")
        send(admin, "sync")
        wait_until(lambda: len(results(site)) == 4, timeout=5)
        wait_until(lambda: all(s == "done" for _, s, _ in results(site).values()), timeout=20)
        page = admin.get(PAGE).get_data(as_text=True)
        assert set(command_rows(page).values()) == {"done"}
        for text in ("Đã phát âm thử", "Đã đặt âm lượng 55%", "Đã bật loa", "Đã đồng bộ lịch phát"):
            assert text in page
        assert "-q sset Master 55%" in hardware.mixer()
        assert "Đã thực hiện" in page and "Đặt âm lượng 55%" in page
        # A restart waits for the bulletin on air (three readings of the reminder) to end.
        on_air = long_play(site, support.soon(2))
        wait_until(lambda: site.server_kinds(on_air)["started"] == 1, timeout=20)
        send(admin, "restart")
        assert process.wait(timeout=30) == RESTART_EXIT, site.log()
        assert site.server_kinds(on_air) == Counter(started=1, finished=1), site.log()
        restart = max(results(site))
        assert results(site)[restart] == ("restart", "done", "restarting")
        # systemd starts it again; the restart command is not acted on a second time.
        seen = beat_of(site).seen_at
        process = site.agent(server.url, args=hardware.args, env=hardware.env)
        wait_until(lambda: beat_of(site).seen_at > seen, timeout=20)
        seen = beat_of(site).seen_at
        wait_until(lambda: beat_of(site).seen_at > seen, timeout=10)  # and one more
        assert process.poll() is None, site.log()
    finally:
        if process is not None and process.poll() is None:
            stop_agent(process)
        server.stop()
    rows = results(site)
    actions = audit_actions(site)
    for command_id in rows:
        assert actions.count(("send_command", str(command_id))) == 1
        assert actions.count(("command_result", str(command_id))) == 1, actions
    assert [w for w, _ in hardware.amp()].count("on") >= 1
    assert "Đã phát âm thử" in admin.get(PAGE).get_data(as_text=True)


class LossyProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the server; result reports are refused, or their answer lost, as told."""

    upstream = ""
    # "refuse": never forwarded; "lose": forwarded once, answer dropped; "pass"
    mode = "refuse"
    lost: list[str] = []

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        is_result = self.command == "POST" and self.path.endswith("/result")
        if is_result and (self.mode == "refuse" or (self.mode == "lose" and not self.lost)):
            if self.mode == "lose":
                self._send_upstream(body)
            type(self).lost.append(self.path)
            self.close_connection = True
            self.connection.shutdown(2)  # the agent sees its connection drop, no answer
            return
        status, headers, payload = self._send_upstream(body)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_upstream(self, body):
        request = urllib.request.Request(self.upstream + self.path, data=body, method=self.command)
        for name in ("Authorization", "Content-Type", "If-None-Match", "Range", "User-Agent"):
            if self.headers.get(name):
                request.add_header(name, self.headers[name])
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.getheaders(), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.items(), exc.read()

    do_GET = do_POST = _forward  # noqa: N815 (http.server's naming)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy():
    LossyProxy.lost = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LossyProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_command_is_acted_on_once_when_its_result_is_lost_or_the_agent_dies(
    site,  # noqa: F811
    hardware,
    web,
    proxy,
):
    _, via = proxy
    admin = login(web, "admin")
    server = site.server().start()
    LossyProxy.upstream = server.url
    process = None
    try:
        # The answer to the first report is lost: the agent reports again, stored once.
        LossyProxy.mode = "lose"
        process = site.agent(via, args=hardware.args, env=hardware.env)
        send(admin, "amplifier_on")
        first = max(results(site))
        wait_until(lambda: "reported " + str(first) in site.log(), timeout=20)
        assert len(LossyProxy.lost) == 1 and results(site)[first][1] == "done"
        # Now no report gets through, and the agent is killed after acting.
        LossyProxy.mode = "refuse"
        send(admin, "amplifier_on")
        second = max(results(site))
        wait_until(lambda: len(LossyProxy.lost) >= 2, timeout=20)
        assert results(site)[second][1] == "sent"
        process.kill()
        process.wait(timeout=10)
        # Back up, reports still lost: the command comes again with the next heartbeat,
        # and the agent does not switch again.
        process = site.agent(via, args=hardware.args, env=hardware.env)
        wait_until(lambda: f"{second} was handled before" in site.log(), timeout=20)
        # Reports get through again: it reports what it did the first time.
        LossyProxy.mode = "pass"
        wait_until(lambda: results(site)[second][1] == "done", timeout=20)
        stop_agent(process)
        # What a push wake-up calls: the agent asks for its commands at once.
        send(admin, "sync")
        third = max(results(site))
        woken = runner.Agent(
            server=server.url,
            token=site.token,
            cache_dir=site.cache,
            player=NullPlayer(time_scale=0.02),
        )
        try:
            assert woken.fetch_commands() is True
        finally:
            woken.queue.close()
            woken.store.close()
        assert results(site)[third][:2] == ("sync", "done")
    finally:
        if process is not None and process.poll() is None:
            stop_agent(process)
        server.stop()
    words = [w for w, _ in hardware.amp()]
    # Each command switched once (no item plays: nothing else switches it on), though
    # the first was reported twice and the second delivered twice.
    assert words.count("on") == 2, words
    assert results(site)[second] == ("amplifier", "done", "amplifier on")
    actions = audit_actions(site)
    assert actions.count(("command_result", str(first))) == 1
    assert actions.count(("command_result", str(second))) == 1


def test_a_command_reaches_an_agent_held_by_push_within_seconds_not_at_its_next_beat(
    site,  # noqa: F811
    web,
):
    admin = login(web, "admin")
    server = site.server().start()
    # Heartbeats and polls five minutes apart: only the held connection can explain it.
    process = site.agent(server.url, sync=300, args=("--heartbeat-interval", "300"))
    try:
        wait_until(lambda: "manifest (server)" in site.log(), timeout=20)
        time.sleep(1.0)  # the push request is held by now (the log shows it once answered)
        sent = time.monotonic()
        send(admin, "sync")
        wait_until(lambda: [s for _, s, _ in results(site).values()] == ["done"], timeout=10)
        reached = time.monotonic() - sent
    finally:
        stop_agent(process)
        server.stop()
    assert reached < 5.0, site.log()
    assert ("GET", "/api/v1/commands") in {r[:2] for r in server.requests()}
