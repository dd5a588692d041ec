"""A podcast feed (RSS 2.0 with the iTunes tags podcast apps read) of aired bulletins.

Written with xml.etree rather than feedgen: the feed is a dozen elements, the standard
library escapes them correctly, and feedgen would bring lxml into the web server for it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from email.utils import format_datetime

from broadcaster.outreach.listen import AiredItem

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("itunes", ITUNES)
ET.register_namespace("atom", ATOM)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _duration(seconds: float) -> str:
    total = max(1, round(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def podcast_rss(
    *,
    title: str,
    author: str,
    description: str,
    page_url: str,
    feed_url: str,
    items: Sequence[AiredItem],
    audio_url: Callable[[AiredItem], str],
    item_url: Callable[[AiredItem], str],
    image_url: str | None = None,
) -> bytes:
    """The feed as UTF-8 bytes. GUIDs are the items' ids: a client never sees one twice."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", title)
    _sub(channel, "link", page_url)
    _sub(channel, "description", description)
    _sub(channel, "language", "vi")
    _sub(channel, f"{{{ATOM}}}link", href=feed_url, rel="self", type="application/rss+xml")
    _sub(channel, f"{{{ITUNES}}}author", author)
    _sub(channel, f"{{{ITUNES}}}summary", description)
    _sub(channel, f"{{{ITUNES}}}explicit", "false")
    _sub(channel, f"{{{ITUNES}}}type", "episodic")
    _sub(channel, f"{{{ITUNES}}}category", text="Government")
    if image_url:
        _sub(channel, f"{{{ITUNES}}}image", href=image_url)
        image = _sub(channel, "image")
        _sub(image, "url", image_url)
        _sub(image, "title", title)
        _sub(image, "link", page_url)
    if items:
        _sub(channel, "lastBuildDate", format_datetime(max(i.last_aired for i in items)))
    for item in items:
        entry = _sub(channel, "item")
        _sub(entry, "title", item.title)
        _sub(entry, "link", item_url(item))
        _sub(entry, "guid", item.id, isPermaLink="false")
        _sub(entry, "pubDate", format_datetime(item.first_aired))
        _sub(entry, "description", item.transcript)
        _sub(
            entry,
            "enclosure",
            url=audio_url(item),
            length=str(item.audio.size),
            type="audio/mpeg",
        )
        _sub(entry, f"{{{ITUNES}}}duration", _duration(item.audio.duration_s))
        _sub(entry, f"{{{ITUNES}}}explicit", "false")
        _sub(entry, f"{{{ITUNES}}}author", author)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)
