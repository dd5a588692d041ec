"""The long-running processes, run for real: scheduler and `broadcaster up`."""

import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from sqlmodel import Session

from broadcaster import db
from broadcaster.config import PROJECT_ROOT
from broadcaster.models import ServiceBeat
from broadcaster.scheduling import SCHEDULER_SERVICE
from tests.helpers import env_for, free_port, start_cli, wait_until


def scheduler_beat(settings):
    engine = db.make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return session.get(ServiceBeat, SCHEDULER_SERVICE)
    finally:
        engine.dispose()


def test_the_scheduler_reports_it_is_alive_and_stops_cleanly_on_sigterm(settings):
    process = start_cli(settings, "scheduler")
    try:
        beat = wait_until(lambda: scheduler_beat(settings))
        assert beat.pid == process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output


def test_up_serves_the_login_page_and_ctrl_c_stops_every_process(settings):
    port = free_port()
    process = start_cli(settings, "up", BROADCASTER_PORT=str(port))

    def login_page():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                return response.status == 200 and "Đăng nhập" in response.read().decode()
        except OSError:
            return False

    try:
        wait_until(login_page, timeout=30)
        scheduler_pid = wait_until(lambda: scheduler_beat(settings), timeout=30).pid
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert not login_page()  # the web child is gone too
    with pytest.raises(ProcessLookupError):
        os.kill(scheduler_pid, 0)


def test_ctrl_c_to_the_whole_process_group_stops_without_restarting_anything(settings):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "broadcaster", "up"],
        cwd=PROJECT_ROOT,
        env=env_for(settings, BROADCASTER_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        wait_until(lambda: scheduler_beat(settings), timeout=30)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "restarting" not in output


def test_the_scheduler_process_plays_a_local_station_on_time(settings):
    """A one-off at this minute for the local station: the real scheduler process plays it."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from sqlmodel import select

    from broadcaster.dbtypes import utcnow
    from broadcaster.models import Occurrence, Script, ScriptVersion, Station, User
    from broadcaster.schedules import ScheduleInput, save_schedule
    from broadcaster.workflow import approve, submit

    engine = db.make_engine(settings.database_url)
    with Session(engine) as session:
        script = session.exec(
            select(Script).where(Script.slug == "bluezone-nhac-nho-hang-ngay")
        ).one()
        version = session.exec(
            select(ScriptVersion).where(ScriptVersion.script_id == script.id)
        ).one()
        submit(
            session=session,
            version=version,
            actor=session.exec(select(User).where(User.username == "editor")).one(),
        )
        approve(
            session=session,
            version=version,
            actor=session.exec(select(User).where(User.username == "approver")).one(),
        )
        local = session.exec(select(Station).where(Station.code == "HUE-PHU-XUAN")).one()
        local_id = local.id
        now_local = utcnow().astimezone(ZoneInfo(local.timezone)).replace(tzinfo=None)
        save_schedule(
            session=session,
            actor=None,
            data=ScheduleInput(
                name="Thử phát",
                script=script,
                kind="once",
                once_at=now_local.replace(second=0, microsecond=0),
                station_ids=[local.id],
            ),
        )
        session.commit()
    launched = utcnow()
    process = start_cli(settings, "scheduler", "--player", "null")

    def started():
        with Session(engine) as session:
            occurrence = session.exec(select(Occurrence)).first()
            return occurrence if occurrence and occurrence.started_at else None

    try:
        occurrence = wait_until(started, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        engine.dispose()
    assert process.returncode == 0, output
    assert occurrence.station_id == local_id
    # The slot is this minute, already begun: it plays as soon as the scheduler is up.
    assert occurrence.started_at - launched < timedelta(seconds=30)
    assert occurrence.started_at >= occurrence.at
