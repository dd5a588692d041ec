"""`broadcaster backup` and `broadcaster restore`, run as commands on real instances."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from broadcaster.core import db
from broadcaster.core.dbtypes import utcnow
from broadcaster.stations.api import rotate_token
from tests import stationapi_support as support
from tests.conftest import PERSONA_PASSWORD
from tests.databases import backend_name
from tests.helpers import run_cli, settings_for

# On PostgreSQL the same tests run through pg_dump and pg_restore, into an empty database
# of the run's cluster; a test that compares SQLite files byte for byte is SQLite's only.
sqlite_only = pytest.mark.skipif(
    backend_name() == "postgresql", reason="compares the SQLite file byte for byte"
)

CODE = "HUE-THUAN-AN"
JINGLE = b"ID3 a commune's own chime"
TABLES = ("user", "station", "script", "scriptversion", "schedule", "occurrence", "audiofile")


@pytest.fixture(scope="module")
def source_template(tmp_path_factory, databases, demo_template):
    facts = {}

    def prepare(session, settings):
        schedule = support.schedule_for(session, support.HOW_TO, [CODE])
        occurrence = support.add_occurrence(
            session, settings, schedule, CODE, utcnow() + timedelta(hours=2)
        )
        facts["token"] = rotate_token(session, support.station(session, CODE))
        facts["occurrence"] = occurrence.id

    template = support.make_template(
        databases, tmp_path_factory.mktemp("backup-source"), demo_template.url, prepare
    )
    return template, facts


@pytest.fixture(scope="module")
def archive(tmp_path_factory, source_template):
    """One backup of the source instance, made by the real command."""
    template, facts = source_template
    folder = tmp_path_factory.mktemp("backup-archive")
    source = template.copy_to(folder / "source", keep=True)
    (source.instance_dir / "jingles").mkdir(parents=True)
    (source.instance_dir / "jingles" / "chuong-rieng.mp3").write_bytes(JINGLE)
    path = folder / "broadcaster.tar.gz"
    done = run_cli(source, "backup", "--output", str(path))
    assert done.returncode == 0, done.stderr
    assert "backup written" in done.stdout
    return path, source, facts


def counts(settings) -> dict[str, int]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return {
                t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in TABLES
            }
    finally:
        engine.dispose()


def files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def empty_instance(databases):
    """An instance with nothing in it yet: no database (or an empty one), no audio."""

    def make(folder: Path):
        if backend_name() == "postgresql":
            return settings_for(folder, databases.create(folder))
        return settings_for(folder, f"sqlite:///{folder / 'broadcaster.db'}")

    return make


@pytest.mark.slow
def test_a_restored_instance_has_the_users_scripts_schedules_and_audio_back(
    archive, tmp_path, empty_instance
):
    path, source, facts = archive
    target = empty_instance(tmp_path / "restored")
    done = run_cli(target, "restore", str(path))
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout and "users" in done.stdout
    assert counts(target) == counts(source)
    assert counts(target)["audiofile"] >= 1 and counts(target)["user"] >= 4
    assert files(target.audio_dir) == files(source.audio_dir)
    assert (target.instance_dir / "secret_key").read_text() == (
        source.instance_dir / "secret_key"
    ).read_text()
    assert (target.instance_dir / "jingles" / "chuong-rieng.mp3").read_bytes() == JINGLE
    assert not list(target.instance_dir.glob(".restore-*"))

    server = support.Server(target).start()
    try:
        bearer = {"Authorization": f"Bearer {facts['token']}"}
        manifest = requests.get(f"{server.url}/api/v1/manifest", headers=bearer, timeout=10)
        assert manifest.status_code == 200
        item = next(
            i for i in manifest.json()["items"] if i["occurrence_id"] == facts["occurrence"]
        )
        audio = requests.get(server.url + item["audio_url"], headers=bearer, timeout=10)
        assert audio.status_code == 200
        assert hashlib.sha256(audio.content).hexdigest() == item["sha256"]
        browser = requests.Session()
        page = browser.get(f"{server.url}/login", timeout=10).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        login = browser.post(
            f"{server.url}/login",
            data={"username": "admin", "password": PERSONA_PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert login.status_code == 302  # the restored password hashes work
        dashboard = browser.get(f"{server.url}/", timeout=10)
        assert dashboard.status_code == 200 and "Thuận An" in dashboard.text
    finally:
        server.stop()


@sqlite_only
def test_a_non_empty_instance_is_refused_unless_forced(archive, source_template, tmp_path):
    path, _, _ = archive
    template, _ = source_template
    target = template.copy_to(tmp_path / "busy")
    database = Path(target.database_url.removeprefix("sqlite:///"))
    before = database.read_bytes()
    refused = run_cli(target, "restore", str(path))
    assert refused.returncode == 1
    assert "Error: the target instance is not empty" in refused.stderr
    assert "--force" in refused.stderr
    assert database.read_bytes() == before
    forced = run_cli(target, "restore", "--force", str(path))
    assert forced.returncode == 0, forced.stderr
    assert database.with_name(database.name + ".before-restore").read_bytes() == before
    assert (target.instance_dir / "jingles" / "chuong-rieng.mp3").read_bytes() == JINGLE


def test_a_missing_archive_is_named(tmp_path, empty_instance):
    target = empty_instance(tmp_path / "t")
    done = run_cli(target, "restore", str(tmp_path / "nope.tar.gz"))
    assert done.returncode == 1 and "nope.tar.gz: no such file" in done.stderr


def _assert_untouched(target) -> None:
    if backend_name() == "postgresql":
        engine = db.make_engine(target.database_url)
        try:
            with engine.connect() as connection:
                tables = connection.execute(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                ).scalar()
        finally:
            engine.dispose()
        assert tables == 0
    else:
        assert not Path(target.database_url.removeprefix("sqlite:///")).exists()
    assert not target.audio_dir.exists() or files(target.audio_dir) == {}
    assert not list(target.instance_dir.glob(".restore-*"))
    assert not (target.instance_dir / "jingles").exists()


@pytest.mark.parametrize("damage", ["junk", "truncated", "not-ours"])
def test_a_corrupted_archive_is_refused_and_changes_nothing(
    archive, tmp_path, damage, empty_instance
):
    path, _, _ = archive
    bad = tmp_path / "bad.tar.gz"
    if damage == "junk":
        bad.write_bytes(b"this is not a backup at all" * 100)
    elif damage == "truncated":
        bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        with tarfile.open(bad, "w:gz") as tar:
            info = tarfile.TarInfo("notes.txt")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
    target = empty_instance(tmp_path / "t")
    done = run_cli(target, "restore", str(bad))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    expected = "not a Broadcaster backup" if damage != "truncated" else "corrupted"
    assert expected in done.stderr
    _assert_untouched(target)


def test_a_wrong_checksum_is_refused_and_changes_nothing(archive, tmp_path, empty_instance):
    path, _, _ = archive
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(path, "r:gz") as original, tarfile.open(tampered, "w:gz") as copy:
        for member in original:
            data = original.extractfile(member).read()
            if member.name.startswith("audio/"):
                data = data[:-1] + bytes([data[-1] ^ 0xFF])  # same size, one byte off
            copy.addfile(member, io.BytesIO(data))
    target = empty_instance(tmp_path / "t")
    done = run_cli(target, "restore", str(tampered))
    assert done.returncode == 1
    assert "does not match its checksum" in done.stderr and "audio/" in done.stderr
    _assert_untouched(target)


def test_backup_never_overwrites_and_names_a_missing_folder(archive, tmp_path):
    path, source, _ = archive
    before = path.read_bytes()
    exists = run_cli(source, "backup", "--output", str(path))
    assert exists.returncode == 1 and "already exists" in exists.stderr
    assert path.read_bytes() == before
    nowhere = run_cli(source, "backup", "--output", str(tmp_path / "no" / "x.tar.gz"))
    assert nowhere.returncode == 1 and "does not exist" in nowhere.stderr


def test_a_backup_with_an_audio_file_gone_still_succeeds_and_says_so(source_template, tmp_path):
    template, _ = source_template
    source = template.copy_to(tmp_path / "source")
    lost = next(source.audio_dir.glob("*/*.mp3"))
    lost.unlink()
    done = run_cli(source, "backup", "--output", str(tmp_path / "b.tar.gz"))
    assert done.returncode == 0, done.stderr
    assert "1 recorded audio files were missing" in done.stderr
    with tarfile.open(tmp_path / "b.tar.gz", "r:gz") as archive:
        assert f"audio/{lost.parent.name}/{lost.name}" not in archive.getnames()


def test_a_backup_is_readable_by_its_owner_only_and_leaves_no_partial_file(archive):
    # It holds the secret key and every password hash.
    path, _, _ = archive
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
