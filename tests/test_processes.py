"""The long-running processes, run for real: scheduler and `broadcaster up`."""

import os
import signal
import urllib.request

import pytest
from sqlmodel import Session

from broadcaster import db
from broadcaster.models import ServiceBeat
from broadcaster.scheduling import SCHEDULER_SERVICE
from tests.helpers import free_port, start_cli, wait_until


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
