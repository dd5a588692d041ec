"""A resident scans the commune's QR code with a phone and plays yesterday's bulletin."""

from __future__ import annotations

import subprocess
import urllib.request
from datetime import timedelta

import pytest
from sqlmodel import select

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Schedule
from tests.outreach.support import DAILY, aired, commune_of, publish

pytestmark = pytest.mark.e2e
STATION = "HUE-THUAN-HOA"


@pytest.fixture
def yesterday(session, settings):
    shown = aired(session, settings, DAILY, STATION, utcnow() - timedelta(days=1))
    publish(session, session.exec(select(Schedule).where(Schedule.id == shown.schedule_id)).one())
    return commune_of(session, STATION)


def test_a_phone_opens_the_page_from_its_qr_code_and_plays_yesterdays_bulletin(
    yesterday, live_server, browser, tmp_path
):
    png = tmp_path / "qr.png"
    with urllib.request.urlopen(f"{live_server}/nghe-lai/{yesterday.code}/qr.png") as answer:
        png.write_bytes(answer.read())
    url = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert url == f"{live_server}/nghe-lai/{yesterday.code}"

    phone = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    page = phone.new_page()
    ranges = []
    page.on(
        "request",
        lambda r: ranges.append(r.headers.get("range")) if r.url.endswith(".mp3") else None,
    )
    page.goto(url)
    assert page.get_by_role("heading", name="Nghe lại bản tin").is_visible()
    assert page.get_by_text(yesterday.name).first.is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    player = page.locator("audio").first
    assert player.get_attribute("preload") == "none"
    assert not ranges  # nothing of the audio before the resident asks for it
    player.evaluate("audio => audio.play()")
    page.wait_for_function(
        "() => { const a = document.querySelector('audio'); "
        "return a.currentTime > 0 || a.readyState >= 2; }",
        timeout=15_000,
    )
    phone.close()
    assert any(r and r.startswith("bytes=") for r in ranges)
