"""The shipped production files (deploy/): checked by the real tools, and run for real.

nginx (with the shipped site, adapted to loopback ports and temporary paths) sits in front
of gunicorn (with the shipped config) serving web.wsgi:app, as in production: audio goes
through X-Accel-Redirect, so nginx sends the bytes and Python only authorizes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from broadcaster.core.config import PROJECT_ROOT
from broadcaster.core.dbtypes import utcnow
from broadcaster.stations.api import rotate_token
from tests import stationapi_support as support
from tests.conftest import PERSONA_PASSWORD
from tests.helpers import env_for, free_port, wait_until

DEPLOY = PROJECT_ROOT / "deploy"
SITE = DEPLOY / "nginx" / "broadcaster.conf"
OWN = "HUE-THUAN-AN"
OTHER = "HUE-PHU-XUAN"
ACCEL = "/_audio/"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not found:
        pytest.fail("nginx is not installed (make test installs it: Debian package nginx)")
    return found


def loopback_site(folder: Path, *, app_port: int, http_port: int, https_port: int, audio: Path):
    """The shipped site with only addresses and paths changed; returns the nginx.conf path."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(folder / "key.pem")
    (folder / "cert.pem").write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    ca.cert_pem.write_to_path(folder / "ca.pem")
    replacements = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;\n": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;\n": "",
        "/etc/letsencrypt/live/broadcaster.example.vn/fullchain.pem": str(folder / "cert.pem"),
        "/etc/letsencrypt/live/broadcaster.example.vn/privkey.pem": str(folder / "key.pem"),
        "/var/log/nginx/": f"{folder}/",
        "/var/lib/broadcaster/audio/": f"{audio}/",
        "/var/cache/broadcaster-public": f"{folder}/public-cache",
        "/opt/broadcaster/": f"{PROJECT_ROOT}/",
        "/var/www/letsencrypt": str(folder),
    }
    site = SITE.read_text()
    for old, new in replacements.items():
        # The shipped file must still contain what the test adapts, or this test would
        # quietly check something else.
        assert old in site, f"{SITE} no longer contains {old!r}"
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy")
    )
    # Root's workers would run as nobody, who cannot read pytest's private folders.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""{user}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
{temp_paths}
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""
    )
    return conf


def nginx_command(conf: Path, *extra: str) -> list[str]:
    return [
        nginx_binary(),
        "-p",
        str(conf.parent),
        "-e",
        str(conf.parent / "startup.log"),
        "-c",
        str(conf),
        *extra,
    ]


# --- the files, checked by their own tools --------------------------------------------


def test_nginx_accepts_the_shipped_site(tmp_path):
    conf = loopback_site(
        tmp_path,
        app_port=free_port(),
        http_port=free_port(),
        https_port=free_port(),
        audio=tmp_path,
    )
    checked = subprocess.run(nginx_command(conf, "-t"), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_gunicorn_accepts_the_shipped_config_and_finds_the_app(settings):
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--check-config",
            "-c",
            str(DEPLOY / "gunicorn.conf.py"),
            "web.wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--print-config",
            "-c",
            str(DEPLOY / "gunicorn.conf.py"),
            "web.wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    workers = int(re.search(r"^workers\s+= (\d+)", printed, re.M).group(1))
    assert workers >= 2  # several processes, not one


def test_systemd_accepts_the_shipped_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (no systemd on this machine)")
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.*")):
        # Executables must exist for verify: point /opt/broadcaster at this checkout.
        text = unit.read_text().replace("/opt/broadcaster", str(PROJECT_ROOT))
        name = unit.name.replace("@.service", "@HUE-THUAN-AN.service")
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / name))
    assert len(units) == 6  # web, push, scheduler, agent@, backup and its timer
    checked = subprocess.run([analyze, "verify", *units], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
    scheduler = (DEPLOY / "systemd" / "broadcaster-scheduler.service").read_text()
    assert "ExecStart=/opt/broadcaster/.venv/bin/broadcaster scheduler" in scheduler
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text()
        assert "EnvironmentFile=/etc/broadcaster/" in text, unit.name
        for hardening in ("User=", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges="):
            assert hardening in text, f"{unit.name} lacks {hardening}"


# --- nginx in front of gunicorn, for real ----------------------------------------------


def _prepare(session, settings):
    now = utcnow()
    support.put_on_air(session, settings, now)
    how_to = support.schedule_for(session, support.HOW_TO, [OWN])
    exclusive = support.add_occurrence(session, settings, how_to, OWN, now + timedelta(hours=1))
    tokens = {code: rotate_token(session, support.station(session, code)) for code in (OWN, OTHER)}
    session.commit()
    return {"tokens": tokens, "exclusive": exclusive.id}


class Stack:
    def __init__(self, folder: Path, settings, facts: dict) -> None:
        self.folder = folder
        self.settings = settings
        self.facts = facts
        self.app_port, self.http_port, self.https_port = free_port(), free_port(), free_port()
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def get(self, path: str, **headers) -> requests.Response:
        return requests.get(
            self.url + path,
            headers=headers,
            verify=str(self.folder / "ca.pem"),
            timeout=30,
            allow_redirects=False,
        )

    def start(self) -> Stack:
        with (self.folder / "gunicorn.log").open("wb") as log:
            gunicorn = self._gunicorn(log)
        self.processes.append(gunicorn)
        conf = loopback_site(
            self.folder,
            app_port=self.app_port,
            http_port=self.http_port,
            https_port=self.https_port,
            audio=self.settings.audio_dir,
        )
        self.processes.append(subprocess.Popen(nginx_command(conf), stderr=subprocess.DEVNULL))
        wait_until(self._up, timeout=60)
        return self

    def _gunicorn(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(DEPLOY / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.app_port}",
                "--workers",
                "2",
                "web.wsgi:app",
            ],
            cwd=PROJECT_ROOT,
            env=env_for(self.settings, BROADCASTER_AUDIO_ACCEL_REDIRECT=ACCEL),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )

    def _up(self) -> bool:
        for process in self.processes:
            assert process.poll() is None, (self.folder / "gunicorn.log").read_text()
        try:
            return self.get("/api/v1/openapi.json").status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        for process in reversed(self.processes):
            support.stop(process)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, databases, demo_template):
    facts = {}
    template = support.make_template(
        databases,
        tmp_path_factory.mktemp("deploy-template"),
        demo_template.url,
        lambda session, settings: facts.update(_prepare(session, settings)),
    )
    folder = tmp_path_factory.mktemp("deploy-stack")
    stack = Stack(folder, template.copy_to(folder / "site", keep=True), facts).start()
    yield stack
    stack.stop()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _exclusive_item(stack) -> dict:
    manifest = stack.get("/api/v1/manifest", **_bearer(stack.facts["tokens"][OWN])).json()
    exclusive = [i for i in manifest["items"] if i["occurrence_id"] == stack.facts["exclusive"]]
    assert exclusive, manifest
    return exclusive[0]


@pytest.mark.slow
def test_nginx_sends_the_audio_whole_and_by_range_with_the_apps_headers(stack):
    item = _exclusive_item(stack)
    token = stack.facts["tokens"][OWN]
    whole = stack.get(item["audio_url"], **_bearer(token))
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "audio/mpeg"
    assert hashlib.sha256(whole.content).hexdigest() == item["sha256"]
    assert whole.headers["ETag"] == f'"{item["sha256"]}"'
    cache = whole.headers["Cache-Control"]
    assert "immutable" in cache and "private" in cache and "max-age=31536000" in cache
    assert "X-Accel-Redirect" not in whole.headers
    part = stack.get(item["audio_url"], **_bearer(token), Range="bytes=1000-1099")
    assert part.status_code == 206 and part.content == whole.content[1000:1100]
    assert part.headers["Content-Range"] == f"bytes 1000-1099/{len(whole.content)}"
    rest = stack.get(item["audio_url"], **_bearer(token), Range="bytes=5000-")
    assert rest.status_code == 206 and rest.content == whole.content[5000:]
    unchanged = stack.get(
        item["audio_url"], **_bearer(token), **{"If-None-Match": f'"{item["sha256"]}"'}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_the_app_behind_nginx_authorizes_but_sends_no_audio_bytes(stack):
    item = _exclusive_item(stack)
    direct = requests.get(
        stack.app_url + item["audio_url"], headers=_bearer(stack.facts["tokens"][OWN]), timeout=30
    )
    assert direct.status_code == 200 and direct.content == b""
    assert direct.headers["X-Accel-Redirect"].startswith(ACCEL)
    assert direct.headers["X-Accel-Redirect"].endswith(".mp3")


def test_a_bad_or_foreign_token_gets_no_audio_through_nginx(stack):
    item = _exclusive_item(stack)
    unknown = stack.get(item["audio_url"], **_bearer("not-a-real-token"))
    assert unknown.status_code == 401 and unknown.json()["status"] == 401
    missing = stack.get(item["audio_url"])
    assert missing.status_code == 401
    # The exclusive audio is only in HUE-THUAN-AN's manifest.
    foreign = stack.get(
        item["audio_url"], **_bearer(stack.facts["tokens"][OTHER]), Range="bytes=0-99"
    )
    assert foreign.status_code == 404 and foreign.headers["Content-Type"] == "application/json"
    for response in (unknown, missing, foreign):
        assert b"ID3" not in response.content and len(response.content) < 500


def test_the_internal_audio_location_cannot_be_reached_directly(stack):
    item = _exclusive_item(stack)
    token = stack.facts["tokens"][OWN]
    target = requests.get(stack.app_url + item["audio_url"], headers=_bearer(token), timeout=30)
    inside = target.headers["X-Accel-Redirect"]
    assert (stack.settings.audio_dir / inside.removeprefix(ACCEL)).is_file()
    response = stack.get(inside, **_bearer(token))
    assert response.status_code == 404 and b"ID3" not in response.content


def test_plain_http_is_sent_to_https(stack):
    response = requests.get(
        f"http://127.0.0.1:{stack.http_port}/portal/", timeout=10, allow_redirects=False
    )
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://")


def test_the_portal_download_goes_through_nginx_with_its_vietnamese_file_name(stack):
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE overrides the test CA
    browser.verify = str(stack.folder / "ca.pem")
    page = browser.get(stack.url + "/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    # Behind TLS Flask-WTF checks the Referer, as browsers send it: gunicorn trusts
    # nginx's X-Forwarded-Proto, so the app knows it is served over HTTPS.
    browser.headers["Referer"] = stack.url + "/login"
    logged_in = browser.post(
        stack.url + "/login",
        allow_redirects=False,
        data={"username": "admin", "password": PERSONA_PASSWORD, "csrf_token": token},
    )
    assert logged_in.status_code == 302, logged_in.text[:3000]
    item = _exclusive_item(stack)
    url = f"{stack.url}/portal/{OWN}/{stack.facts['exclusive']}.mp3?download=1"
    download = browser.get(url, allow_redirects=False)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == item["sha256"]
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    part = browser.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == download.content[:10]
    browser.cookies.clear()
    anonymous = browser.get(url, allow_redirects=False)
    assert anonymous.status_code in (302, 401) and b"ID3" not in anonymous.content


def test_nginx_caches_the_residents_pages_and_sends_their_audio(stack):
    """deploy/nginx/public*.conf: a page is served from nginx's cache the second time,
    its audio comes from nginx by Range, and nothing but GET and HEAD gets through."""
    from sqlmodel import Session, select

    from broadcaster.core import db
    from broadcaster.core.models import AudioFile, Schedule
    from tests.outreach.support import aired, commune_of, publish

    engine = db.make_engine(stack.settings.database_url)
    with Session(engine, expire_on_commit=False) as session:
        shown = aired(session, stack.settings, support.DAILY, OTHER, utcnow() - timedelta(days=1))
        publish(
            session, session.exec(select(Schedule).where(Schedule.id == shown.schedule_id)).one()
        )
        audio = session.get(AudioFile, shown.audio_id)
        commune = commune_of(session, OTHER)
    engine.dispose()
    page = f"/nghe-lai/{commune.code}"
    first, second = stack.get(page), stack.get(page)
    assert first.status_code == 200 and second.content == first.content
    assert (first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]) == ("MISS", "HIT")
    [mp3] = re.findall(r'src="(/nghe-lai/[^"]+\.mp3)"', first.text)
    part = stack.get(mp3, Range="bytes=0-99")
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["Content-Range"] == f"bytes 0-99/{audio.size}"
    refused = requests.post(stack.url + page, verify=str(stack.folder / "ca.pem"), timeout=30)
    assert refused.status_code == 403
