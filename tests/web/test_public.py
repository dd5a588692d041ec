"""The residents' "Nghe lại" pages: only what aired and is public, cacheable, unguessable."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

import pytest

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import AudioFile
from broadcaster.outreach import listen
from tests.outreach.support import DAILY, HOW_TO, aired, commune_of, publish

STATION = "HUE-THUAN-HOA"


@pytest.fixture
def on_air(session, settings):
    """Yesterday the daily reminder aired (public); the how-to aired too, not public;
    a third play of the reminder elsewhere was rendered but never aired."""
    yesterday = utcnow() - timedelta(days=1)
    shown = aired(session, settings, DAILY, STATION, yesterday)
    publish(session, _schedule(session, shown))
    hidden = aired(session, settings, HOW_TO, STATION, yesterday + timedelta(hours=1))
    audio = session.get(AudioFile, shown.audio_id)  # one render fewer: the audio is not the point
    never = aired(session, settings, DAILY, "HUE-AN-CUU", yesterday, played=False, audio=audio)
    commune = commune_of(session, STATION)
    return {"commune": commune, "shown": shown, "hidden": hidden, "never": never}


def _schedule(session, occurrence):
    from broadcaster.core.models import Schedule

    return session.get(Schedule, occurrence.schedule_id)


def _items(html: str) -> list[str]:
    return re.findall(r'href="/nghe-lai/[^/"]+/([0-9a-f]{24})"', html)


def test_it_lists_only_public_bulletins_that_aired(client, on_air, session):
    commune = on_air["commune"]
    response = client.get(f"/nghe-lai/{commune.code}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Bluezone" in html or "bluezone" in html.lower()
    [item] = _items(html)
    assert 'preload="none"' in html and f"/nghe-lai/{commune.code}/{item}.mp3" in html
    # The hidden how-to aired at the same station: its title is nowhere.
    from broadcaster.core.models import Script, ScriptVersion

    hidden = session.get(ScriptVersion, on_air["hidden"].version_id)
    assert session.get(Script, hidden.script_id).title not in html
    # An approver takes the reminder off: the page empties.
    publish(session, _schedule(session, on_air["shown"]), public=False)
    assert _items(client.get(f"/nghe-lai/{commune.code}").get_data(as_text=True)) == []


def test_the_item_page_has_the_spoken_text_and_the_audio_plays_by_range(client, on_air, session):
    commune = on_air["commune"]
    [item] = _items(client.get(f"/nghe-lai/{commune.code}").get_data(as_text=True))
    page = client.get(f"/nghe-lai/{commune.code}/{item}").get_data(as_text=True)

    audio = session.get(AudioFile, on_air["shown"].audio_id)
    assert audio.spoken_text.split()[0] in page
    url = f"/nghe-lai/{commune.code}/{item}.mp3"
    with client.get(url) as whole:
        assert whole.status_code == 200 and whole.mimetype == "audio/mpeg"
        assert len(whole.data) == audio.size
        assert "public" in whole.headers["Cache-Control"]
    with client.get(url, headers={"Range": "bytes=100-199"}) as part:
        assert part.status_code == 206 and part.data == whole.data[100:200]


def test_unpublished_unknown_and_unaired_items_are_the_same_not_found(client, on_air, session):
    commune = on_air["commune"]
    hidden = listen.item_id(_sha(session, on_air["hidden"]), commune.code)
    never = listen.item_id(_sha(session, on_air["never"]), commune_of(session, "HUE-AN-CUU").code)
    probes = [
        f"/nghe-lai/{commune.code}/{hidden}",
        f"/nghe-lai/{commune.code}/{hidden}.mp3",
        f"/nghe-lai/{commune_of(session, 'HUE-AN-CUU').code}/{never}",
        f"/nghe-lai/{commune.code}/{'0' * 24}",
        f"/nghe-lai/{commune.code}/1",
        f"/nghe-lai/{commune.code}/{on_air['shown'].id}",
        "/nghe-lai/99999999",
        "/nghe-lai/99999999/podcast.xml",
    ]
    answers = {(r.status_code, r.data) for r in (client.get(p) for p in probes)}
    assert len(answers) == 1 and next(iter(answers))[0] == 404


def _sha(session, occurrence) -> str:

    return session.get(AudioFile, occurrence.audio_id).sha256


def test_pages_are_read_only_and_cacheable_without_cookies(client, app, auth, on_air):
    commune = on_air["commune"]
    url = f"/nghe-lai/{commune.code}"
    first = client.get(url)
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert "Set-Cookie" not in first.headers
    # The same bytes whoever asks (so nginx may ignore Vary: Cookie for these pages).
    staff = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(staff).login("admin")
    assert staff.get(url).data == first.data
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    for method in ("post", "put", "delete", "patch", "options"):
        assert getattr(client, method)(url).status_code == 405
    assert client.head(url).status_code == 200


def test_a_page_names_no_staff_and_shows_nothing_ahead(client, on_air, session):
    from sqlmodel import select

    from broadcaster.core.models import User

    html = client.get(f"/nghe-lai/{on_air['commune'].code}").get_data(as_text=True)
    for person in session.exec(select(User)):
        assert person.full_name not in html and person.username not in html
    assert "HUE-" not in html  # station codes stay internal
    assert "/login" not in html and "/schedules" not in html


def test_the_province_page_lists_its_communes_bulletins(client, on_air, session):
    from broadcaster.core.models import Area

    province = session.get(Area, on_air["commune"].parent_id)
    html = client.get(f"/nghe-lai/{province.code}").get_data(as_text=True)
    assert on_air["commune"].name in html
    assert len(_items(html)) == 1


def test_a_page_is_under_50_kb_with_a_month_of_long_bulletins(client, session, settings):
    """Forty distinct long bulletins aired this month: HTML and CSS stay under 50 kB."""
    from broadcaster.core.models import AudioFile, Occurrence, OccurrenceStatus

    shown = aired(session, settings, DAILY, STATION, utcnow() - timedelta(days=2))
    publish(session, _schedule(session, shown))
    template = session.get(AudioFile, shown.audio_id)
    for n in range(40):
        audio = AudioFile(
            **{
                **template.model_dump(exclude={"id"}),
                "key": f"k{n}",
                "sha256": f"{n:064x}",
                "spoken_text": "Bà con chú ý cài đặt ứng dụng Bluezone. " * 250,
            }
        )
        session.add(audio)
        session.flush()
        session.add(
            Occurrence(
                schedule_id=shown.schedule_id,
                station_id=shown.station_id,
                at=shown.at - timedelta(hours=n + 1),
                started_at=shown.at - timedelta(hours=n + 1),
                version_id=shown.version_id,
                audio_id=audio.id,
                status=OccurrenceStatus.PLAYED,
            )
        )
    session.commit()
    commune = commune_of(session, STATION)
    html = client.get(f"/nghe-lai/{commune.code}").data
    with client.get("/static/public.css") as stylesheet:
        css = stylesheet.data
    assert len(_items(html.decode())) == listen.MAX_ITEMS
    assert len(html) + len(css) < 50_000
    [first, *_] = _items(html.decode())
    item = client.get(f"/nghe-lai/{commune.code}/{first}").data
    assert len(item) + len(css) < 50_000
    province = client.get(f"/nghe-lai/{_province(session, commune)}").data
    assert len(_items(province.decode())) == listen.MAX_ITEMS
    assert len(province) + len(css) < 50_000


def _province(session, commune):
    from broadcaster.core.models import Area

    return session.get(Area, commune.parent_id).code


def test_requests_beyond_the_rate_limit_are_refused(settings, tmp_path):
    from dataclasses import replace

    from web import create_app

    app = create_app({"SETTINGS": replace(settings, public_burst=3), "TESTING": True})
    client = app.test_client()
    codes = [client.get("/nghe-lai/99999999").status_code for _ in range(5)]
    app.extensions["engine"].dispose()
    assert codes[:3] == [404, 404, 404] and codes[3] == 429
    assert client.get("/login").status_code == 200  # the staff pages are not limited here


def test_the_qr_code_on_the_poster_reads_as_the_page_url(client, on_air, tmp_path, app):
    from dataclasses import replace

    commune = on_air["commune"]
    poster = client.get(f"/nghe-lai/{commune.code}/ap-phich").get_data(as_text=True)
    assert "Quét mã để nghe lại bản tin" in poster and commune.name in poster
    [src] = re.findall(r'class="qr" src="([^"]+)"', poster)
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], public_url="https://loa.hue.gov.vn")
    png = tmp_path / "qr.png"
    png.write_bytes(client.get(src).data)
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert decoded == f"https://loa.hue.gov.vn/nghe-lai/{commune.code}"


def test_a_resident_without_the_qr_code_finds_the_commune_from_the_index(client, session):
    commune = commune_of(session, STATION)
    from broadcaster.core.models import Area

    province = session.get(Area, commune.parent_id)
    index = client.get("/nghe-lai").get_data(as_text=True)
    assert f'href="/nghe-lai/{province.code}"' in index
    page = client.get(f"/nghe-lai/{province.code}").get_data(as_text=True)
    assert f'href="/nghe-lai/{commune.code}"' in page
    assert len(re.findall(r'<li><a href="/nghe-lai/', page)) == 40  # the demo's 40 stations
