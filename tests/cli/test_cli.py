import re
from pathlib import Path

import click
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, select

from broadcaster.cli.main import main
from broadcaster.core import db
from broadcaster.core.models import Station, User
from tests.helpers import run_cli


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


def test_every_command_has_help():
    runner = CliRunner()
    paths = list(all_commands(main))
    assert {
        ("up",),
        ("web",),
        ("scheduler",),
        ("db", "upgrade"),
        ("seed", "demo"),
        ("user", "create"),
        ("areas", "import"),
        ("scripts", "import"),
    } <= set(paths)
    for path in paths:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage:" in result.output


def test_init_on_an_empty_machine_sets_everything_up_and_prints_the_password_once(
    tmp_path, blank_database_url
):
    from broadcaster.core.config import load_settings

    settings = load_settings(
        {
            "BROADCASTER_INSTANCE_DIR": str(tmp_path / "instance"),
            "BROADCASTER_DATABASE_URL": blank_database_url,
        }
    )
    first = run_cli(settings, "init")
    assert first.returncode == 0, first.stderr
    password = re.search(r"password: (\S+)", first.stdout).group(1)
    demo = dict(re.findall(r"^  (bientap|lanhdao|vanhanh)\s+password: (\S+)$", first.stdout, re.M))
    assert set(demo) == {"bientap", "lanhdao", "vanhanh"}
    assert "40 communes" in first.stdout
    second = run_cli(settings, "init")
    assert second.returncode == 0 and "password" not in second.stdout

    engine = db.make_engine(settings.database_url)
    with Session(engine) as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        assert len(session.exec(select(Station)).all()) == 40
    from werkzeug.security import check_password_hash

    assert check_password_hash(admin.password_hash, password)
    with Session(engine) as session:
        for username, demo_password in demo.items():
            user = session.exec(select(User).where(User.username == username)).one()
            assert check_password_hash(user.password_hash, demo_password)
        for table in SQLModel.metadata.sorted_tables:  # no column of any row holds it
            assert password not in str(session.exec(table.select()).all()), table.name
    engine.dispose()
    if engine.dialect.name == "sqlite":  # nor a freed page or the WAL
        stored = Path(make_url(settings.database_url).database).read_bytes()
        assert password not in stored.decode("latin-1")


def test_user_create_reports_a_duplicate_without_a_traceback(settings):
    result = run_cli(settings, "user", "create", "--username", "admin", "--role", "admin")
    assert result.returncode == 1
    assert "Error: user 'admin' already exists" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_create_prints_a_generated_password(settings):
    result = run_cli(settings, "user", "create", "--username", "vanthu", "--role", "editor")
    assert result.returncode == 0, result.stderr
    assert re.search(r"password: \S{12,}", result.stdout)


def test_bad_configuration_is_a_clear_error(settings):
    result = run_cli(settings, "scripts", "list", BROADCASTER_TIMEZONE="Hue/Nowhere")
    assert result.returncode == 1
    assert "BROADCASTER_TIMEZONE" in result.stderr and "Traceback" not in result.stderr


def test_scripts_import_refuses_a_bad_file_and_keeps_the_database_unchanged(settings, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.md").write_text("---\nslug: ok-one\ntitle: Một\n---\nNội dung.\n", encoding="utf-8")
    (bad / "b.md").write_text("no front matter", encoding="utf-8")
    result = run_cli(settings, "scripts", "import", str(bad))
    assert result.returncode == 1 and "b.md" in result.stderr
    listed = run_cli(settings, "scripts", "list", "--json")
    assert "ok-one" not in listed.stdout
    assert listed.stdout.count("\n") >= 6


def test_a_new_station_token_is_printed_once_and_never_on_a_suggested_command_line(settings):
    import hashlib

    from broadcaster.core.models import Area

    engine = db.make_engine(settings.database_url)
    with Session(engine) as session:
        commune = session.get(
            Area, session.exec(select(Station).where(Station.code == "HUE-THUAN-AN")).one().area_id
        ).code
    result = run_cli(settings, "stations", "create", "--code", "HUE-TEST-LOA", "--commune", commune)
    assert result.returncode == 0, result.stderr
    token = re.search(r"^token: (\S+)$", result.stdout, re.M).group(1)
    assert result.stdout.count(token) == 1 and "--token-file" in result.stdout
    with Session(engine) as session:
        station = session.exec(select(Station).where(Station.code == "HUE-TEST-LOA")).one()
    engine.dispose()
    assert station.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_it_lets_a_bug_in_the_core_be_a_traceback_not_a_clean_error(settings, monkeypatch):
    from broadcaster.onair import schedulefiles
    from tests.helpers import env_for

    def broken(session):
        raise ValueError("bug")

    monkeypatch.setattr(schedulefiles, "export_yaml", broken)
    result = CliRunner().invoke(main, ["schedules", "export"], env=env_for(settings))
    assert result.exit_code == 1
    assert type(result.exception) is ValueError and str(result.exception) == "bug"
    assert "Error: bug" not in result.output


def test_it_still_prints_a_refusal_as_one_clean_line(settings):
    result = run_cli(settings, "user", "create", "--username", "admin", "--role", "admin")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
