"""Podcast feeds a real feed parser accepts, and the staff's view of the public links."""

from __future__ import annotations

import struct
from datetime import timedelta

import feedparser

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Area, Schedule
from tests.outreach.support import DAILY, aired, commune_of, publish

STATION = "HUE-THUAN-HOA"


def test_a_podcast_client_can_subscribe_to_a_commune_and_its_province(client, session, settings):
    shown = aired(session, settings, DAILY, STATION, utcnow() - timedelta(days=1))
    publish(session, session.get(Schedule, shown.schedule_id))
    commune = commune_of(session, STATION)
    province = session.get(Area, commune.parent_id)
    guids = []
    for area in (commune, province):
        response = client.get(f"/nghe-lai/{area.code}/podcast.xml")
        assert response.mimetype == "application/rss+xml"
        # Web podcast players elsewhere may fetch the feed and play the audio.
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        feed = feedparser.parse(response.data)
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert feed.version == "rss20"
        assert area.name in feed.feed.title
        assert not feed.feed.itunes_explicit
        cover = client.get(feed.feed.image.href.removeprefix("http://localhost")).data
        width, height = struct.unpack(">II", cover[16:24])  # the PNG's IHDR
        assert (
            width == height and 1400 <= width <= 3000
        )  # "false": Apple's spelling, None to feedparser
        [entry] = feed.entries
        [enclosure] = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        with client.get(enclosure.href.removeprefix("http://localhost")) as audio:
            assert audio.status_code == 200
            assert int(enclosure.length) == len(audio.data)
            assert audio.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        assert entry.itunes_duration.count(":") == 2
        assert entry.guidislink is False
        guids.append(entry.id)
    assert guids[0] == guids[1]  # one episode, whichever feed it came through
    again = feedparser.parse(client.get(f"/nghe-lai/{commune.code}/podcast.xml").data)
    assert again.entries[0].id == guids[0]  # stable


def test_staff_see_the_qr_poster_and_calendar_links_on_the_station_page(client, auth, session):
    auth.login("editor")
    html = client.get(f"/stations/{STATION}").get_data(as_text=True)
    commune = commune_of(session, STATION)
    assert f"/nghe-lai/{commune.code}/qr.png" in html
    assert f"/nghe-lai/{commune.code}/ap-phich" in html
    assert f"/lich/{commune.code}/" in html
    auth.logout()
    assert client.get(f"/stations/{STATION}").status_code in (302, 401)


def test_an_admin_replaces_a_leaked_calendar_url(client, auth, session):
    import re

    from tests.helpers import csrf

    auth.login("admin")
    page = client.get(f"/stations/{STATION}").get_data(as_text=True)
    [old] = re.findall(r'id="calendar-url">https?://[^/]+(/lich/[^<]+)<', page)
    assert client.get(old).status_code == 200
    token = csrf(client, f"/stations/{STATION}")
    client.post(f"/stations/{STATION}/calendar/rotate", data={"csrf_token": token})
    page = client.get(f"/stations/{STATION}").get_data(as_text=True)
    [new] = re.findall(r'id="calendar-url">https?://[^/]+(/lich/[^<]+)<', page)
    assert new != old
    assert client.get(old).status_code == 404 and client.get(new).status_code == 200
    auth.logout()
    auth.login("editor")
    token = csrf(client, f"/stations/{STATION}")
    refused = client.post(f"/stations/{STATION}/calendar/rotate", data={"csrf_token": token})
    assert refused.status_code == 403
