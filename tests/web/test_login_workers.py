"""Login throttling holds across several gunicorn worker processes, as in production."""

import http.cookiejar
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from broadcaster.core.config import PROJECT_ROOT
from tests.helpers import env_for, free_port, wait_until

WORKERS = 4
MAX_FAILURES = 2


def _opener():
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def _status(opener, request) -> int:
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


@pytest.fixture
def gunicorn(settings):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",  # import the app once, then fork: the workers start together
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "web.wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env_for(settings, BROADCASTER_LOGIN_MAX_FAILURES=str(MAX_FAILURES)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        assert process.poll() is None, process.stderr.read().decode()
        try:
            return _status(_opener(), f"{url}/login") == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=60)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.slow
def test_parallel_guesses_on_several_workers_get_no_more_tries_than_one_at_a_time(gunicorn):
    """Twelve wrong passwords at once: at most MAX_FAILURES are checked, the rest get 429.

    Racing attempts count each other (each is written before it is judged), so a burst may
    be cut off before MAX_FAILURES; never after.
    """
    guesses = 12
    clients = []
    for _ in range(guesses):
        opener = _opener()
        with opener.open(f"{gunicorn}/login", timeout=30) as response:
            page = response.read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {"username": "editor", "password": "not the password", "csrf_token": token}
        ).encode()
        clients.append((opener, urllib.request.Request(f"{gunicorn}/login", data=body)))
    start = threading.Barrier(guesses)
    statuses = []

    def guess(opener, request):
        start.wait()
        statuses.append(_status(opener, request))

    threads = [threading.Thread(target=guess, args=client) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Every guess was answered, none let in; at most MAX_FAILURES were checked. A burst may
    # be cut off before any is checked (all 429): the guarantee is the upper bound.
    assert len(statuses) == guesses and set(statuses) <= {401, 429}
    assert statuses.count(401) <= MAX_FAILURES
    assert statuses.count(429) >= guesses - MAX_FAILURES
