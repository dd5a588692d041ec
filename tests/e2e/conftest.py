"""Browser tests: a real server process and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import urllib.request

import pytest

from tests.helpers import free_port, start_cli, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_server(settings):
    port = free_port()
    process = start_cli(settings, "web", "--port", str(port), "--threads", "4")
    base_url = f"http://127.0.0.1:{port}"

    def up():
        try:
            with urllib.request.urlopen(base_url + "/login", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=30)
        yield base_url
    finally:
        process.terminate()
        process.communicate(timeout=20)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    yield page
    context.close()
