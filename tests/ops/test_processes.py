"""The long-running processes, run for real: scheduler and `broadcaster up`."""

import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from sqlmodel import Session

from broadcaster.core import db
from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.models import ServiceBeat
from broadcaster.onair.scheduler import SCHEDULER_SERVICE
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

    from broadcaster.core.dbtypes import utcnow
    from broadcaster.core.models import Occurrence, Script, ScriptVersion, Station, User
    from broadcaster.newsroom.workflow import approve, submit
    from broadcaster.onair.schedules import ScheduleInput, save_schedule

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


def test_a_clock_jump_is_noticed_beyond_the_time_that_passed():
    from datetime import UTC, datetime, timedelta

    from broadcaster.onair.scheduler import ClockWatch

    wall, ticks = [datetime(2026, 12, 1, 6, 0, tzinfo=UTC)], [100.0]
    watch = ClockWatch(wall=lambda: wall[0], monotonic=lambda: ticks[0])
    wall[0] += timedelta(seconds=1)
    ticks[0] += 1.0
    assert watch.jumped() == 0.0  # time passed, the clock followed
    wall[0] -= timedelta(hours=1)
    ticks[0] += 1.0
    assert watch.jumped() == -3601.0
    assert watch.jumped() == 0.0


def test_after_the_clock_went_back_the_periodic_jobs_run_at_once_not_an_hour_later():
    """APScheduler keeps wall-clock next-run times: an hour back would stop the heartbeat."""
    import threading
    from datetime import timedelta

    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from broadcaster.core.dbtypes import utcnow
    from broadcaster.onair.scheduler import rearm_periodic_jobs

    ran = threading.Event()
    scheduler = BackgroundScheduler(jobstores={"memory": MemoryJobStore()}, timezone="UTC")
    scheduler.add_job(
        ran.set,
        "interval",
        seconds=15,
        id="heartbeat",
        jobstore="memory",
        next_run_time=utcnow() + timedelta(hours=1),  # as seen just after the jump back
    )
    scheduler.start()
    try:
        assert not ran.wait(1.0)
        assert rearm_periodic_jobs(scheduler) == 1
        assert ran.wait(10)
    finally:
        scheduler.shutdown(wait=False)


def test_the_scheduler_loop_survives_its_job_store_failing_to_save_a_run():
    """A locked database while APScheduler saves a next run time used to kill its thread."""
    import threading

    from apscheduler.jobstores.memory import MemoryJobStore
    from sqlalchemy.exc import OperationalError

    from broadcaster.onair.scheduler import ResilientScheduler

    class LockedOnce(MemoryJobStore):
        failed = False

        def update_job(self, job):
            if not self.failed:
                self.failed = True
                raise OperationalError("UPDATE apscheduler_jobs", {}, Exception("locked"))
            super().update_job(job)

    runs = []
    done = threading.Event()

    def job():
        runs.append(1)
        if len(runs) >= 2:
            done.set()

    scheduler = ResilientScheduler(jobstores={"default": LockedOnce()}, timezone="UTC")
    scheduler.add_job(job, "interval", seconds=1, id="beat")
    scheduler.start()
    try:
        assert done.wait(15), "no job ran after the job store failed once"
    finally:
        scheduler.shutdown(wait=False)
