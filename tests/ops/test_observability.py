"""Health and logs of the real processes: a scheduler that dies goes stale; JSON log lines."""

import json
import signal
import subprocess
import threading

import pytest

from broadcaster.core.config import load_settings
from tests.helpers import free_port, run_cli, start_cli, wait_until

FAST_BEAT = {"BROADCASTER_HEARTBEAT_SECONDS": "1"}  # stale after 3 s instead of 45 s


def health(settings, component="scheduler"):
    result = run_cli(settings, "health", "--component", component, **FAST_BEAT)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def web_app(settings):
    from web import create_app

    configured = load_settings(
        {
            "BROADCASTER_ENV": "test",
            "BROADCASTER_INSTANCE_DIR": str(settings.instance_dir),
            "BROADCASTER_DATABASE_URL": settings.database_url,
            **FAST_BEAT,
        }
    )
    return create_app({"SETTINGS": configured, "TESTING": True})


@pytest.mark.slow
def test_a_running_scheduler_is_healthy_and_a_killed_one_goes_stale(settings):
    code, [before] = health(settings)
    assert code == 1 and "never run" in before["reason"]
    app = web_app(settings)
    client = app.test_client()
    process = start_cli(settings, "scheduler", "--player", "null", **FAST_BEAT)
    try:
        wait_until(lambda: health(settings)[0] == 0, timeout=30)
        code, [running] = health(settings)
        assert running["pid"] == process.pid
        assert client.get("/healthz/scheduler").status_code == 200
    finally:
        process.kill()  # no clean shutdown: what a crash or an OOM kill looks like
        process.communicate(timeout=20)
    wait_until(lambda: health(settings)[0] == 1, timeout=30)
    code, [dead] = health(settings)
    assert "stale" in dead["reason"]
    response = client.get("/healthz/scheduler")
    assert response.status_code == 503
    assert "stale" in response.json["reason"]
    app.extensions["engine"].dispose()


def test_the_health_command_checks_the_database_too(empty_settings, tmp_path):
    code, lines = health(empty_settings, "all")
    assert code == 1  # no scheduler has run
    assert [line["component"] for line in lines] == ["database", "scheduler"]
    assert lines[0]["status"] == "ok"
    missing = load_settings(
        {
            "BROADCASTER_ENV": "test",
            "BROADCASTER_INSTANCE_DIR": str(tmp_path / "instance"),
            "BROADCASTER_DATABASE_URL": f"sqlite:///{tmp_path / 'absent.db'}",
        }
    )
    code, [database] = health(missing, "database")
    assert code == 1 and "db upgrade" in database["reason"]


def _lines_of(process: subprocess.Popen, into: list[str]) -> threading.Thread:
    def read():
        for line in process.stdout:
            into.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_every_process_logs_one_json_object_per_line(settings, tmp_path):
    json_logs = {"BROADCASTER_LOG_FORMAT": "json"}
    port = free_port()
    processes = {
        "scheduler": start_cli(settings, "scheduler", "--player", "null", **json_logs),
        "web": start_cli(settings, "web", "--port", str(port), **json_logs),
        "agent": start_cli(
            settings,
            "agent",
            "--server",
            f"http://127.0.0.1:{free_port()}",  # nobody there: it logs that and carries on
            "--token",
            "not-a-real-token",
            "--cache",
            str(tmp_path / "agent"),
            "--player",
            "null",
            **json_logs,
        ),
    }
    expected = {
        "scheduler": "scheduler: running",
        "web": f"127.0.0.1:{port}",  # waitress: "Serving on ..."
        "agent": "unreachable",
    }
    output = {name: [] for name in processes}
    readers = [_lines_of(p, output[name]) for name, p in processes.items()]
    try:
        wait_until(lambda: all(expected[name] in "".join(output[name]) for name in output), 60)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            process.wait(timeout=20)
        for reader in readers:
            reader.join(timeout=5)
        for process in processes.values():
            process.stdout.close()
    for name, lines in output.items():
        records = [json.loads(line) for line in lines]  # every line is an object, or this fails
        for record in records:
            assert {"time", "level", "logger", "message"} <= record.keys(), (name, record)
            assert record["time"].endswith("+00:00"), record
        assert any(expected[name] in record["message"] for record in records), name


def test_a_bad_log_format_is_refused_by_name(settings):
    result = run_cli(settings, "health", BROADCASTER_LOG_FORMAT="yaml")
    assert result.returncode == 1
    assert "BROADCASTER_LOG_FORMAT" in result.stderr
