"""The residents' pages: "Nghe lại" per commune and province, their podcast feeds, the
commune's QR code and poster, and (behind a secret) the officials' calendar.

No login, read-only (GET and HEAD only), rate-limited per address, cacheable: nothing
here touches the session, so no cookie is set and nginx's proxy_cache may keep the
answers (deploy/nginx/public.conf). Pages are always Vietnamese. Every "not found" is
the same answer, whether the item never existed, is not public or has aged out.
"""

from __future__ import annotations

import hashlib

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale

from broadcaster.core.dbtypes import utcnow
from broadcaster.core.models import Area, AreaKind
from broadcaster.outreach import calendars, listen
from broadcaster.outreach.podcast import podcast_rss
from broadcaster.outreach.qr import qr_png
from broadcaster.stations.ratelimit import TokenBuckets, retry_after
from web.audiofiles import audio_response
from web.db import get_session

bp = Blueprint("public", __name__)
PAGE_AGE = 300  # a new airing shows within five minutes
# The bytes behind an audio URL never change, but an approver may take the bulletin off:
# then no cache should go on handing it out for long.
AUDIO_AGE = 3600
EXCERPT = 280


def _route(rule: str):
    return bp.route(rule, methods=["GET"], provide_automatic_options=False)


def _settings():
    return current_app.config["SETTINGS"]


@bp.before_request
def _limit():
    limiter = current_app.extensions.get("public_limiter")
    if limiter is None:
        settings = _settings()
        limiter = TokenBuckets(settings.public_rate_per_minute / 60.0, settings.public_burst)
        current_app.extensions["public_limiter"] = limiter
    wait = limiter.take(request.remote_addr or "")
    if wait:
        response = _page("public/error.html", 429, error=429)
        response.headers["Retry-After"] = str(retry_after(wait))
        response.headers["Cache-Control"] = "no-store"
        return response
    return None


@bp.errorhandler(404)
def _not_found(_error):
    response = _page("public/error.html", 404, error=404)
    response.headers["Cache-Control"] = f"public, max-age={PAGE_AGE}"
    return response


def _page(template: str, status: int = 200, **context) -> Response:
    with force_locale("vi"):  # also keeps the locale selector from opening the session
        body = render_template(template, **context)
    return make_response(body, status)


def _cached(response: Response, max_age: int = PAGE_AGE, *, private: bool = False) -> Response:
    response.headers["Cache-Control"] = f"{'private' if private else 'public'}, max-age={max_age}"
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)


def _shareable(response: Response) -> Response:
    """Audio, feeds and QR codes may be embedded elsewhere (a web podcast player, the
    commune's own website); the app-wide default would let only our pages load them."""
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def absolute(endpoint: str, **values) -> str:
    """An absolute URL on the public base (BROADCASTER_PUBLIC_URL, else this request's host)."""
    base = _settings().public_url or request.host_url.rstrip("/")
    return base + url_for(endpoint, **values)


def _area(code: str) -> Area:
    area = listen.public_area(get_session(), code)
    if area is None:
        abort(404)
    return area


def _commune(code: str) -> Area:
    area = _area(code)
    if area.kind != AreaKind.COMMUNE:
        abort(404)
    return area


def _item(code: str, item: str) -> listen.AiredItem:
    found = listen.find_item(get_session(), _commune(code), item, now=utcnow())
    if found is None:
        abort(404)
    return found


def item_url(item: listen.AiredItem) -> str:
    return url_for("public.item", code=item.commune.code, item=item.id)


def audio_url(item: listen.AiredItem) -> str:
    return url_for("public.audio", code=item.commune.code, item=item.id)


bp.add_app_template_global(item_url, "public_item_url")
bp.add_app_template_global(audio_url, "public_audio_url")


@_route("/nghe-lai")
def index():
    return _cached(_page("public/index.html", provinces=listen.served_areas(get_session())))


@_route("/nghe-lai/<code>")
def area(code: str):
    session = get_session()
    area = _area(code)
    province = area.kind == AreaKind.PROVINCE
    return _cached(
        _page(
            "public/area.html",
            area=area,
            items=listen.aired_items(session, area, now=utcnow()),
            province=province,
            communes=listen.served_areas(session, area) if province else [],
            excerpt=EXCERPT,
        )
    )


@_route("/nghe-lai/<code>/<item>")
def item(code: str, item: str):
    return _cached(_page("public/item.html", item=_item(code, item)))


@_route("/nghe-lai/<code>/<item>.mp3")
def audio(code: str, item: str):
    found = _item(code, item)
    response = audio_response(
        found.audio,
        download_name=f"ban-tin-{found.first_aired:%Y%m%d}.mp3",
        max_age=AUDIO_AGE,
        last_modified=found.audio.created_at,
    )
    if response is None:
        abort(404)
    return _shareable(response)


@_route("/nghe-lai/<code>/podcast.xml")
def podcast(code: str):
    area = _area(code)
    items = listen.aired_items(get_session(), area, now=utcnow())
    body = podcast_rss(
        title=f"Nghe lại bản tin – {area.name}",
        author=f"Hệ thống truyền thanh {area.name}",
        description=f"Các bản tin đã phát trên loa truyền thanh {area.name} trong 30 ngày qua.",
        page_url=absolute("public.area", code=area.code),
        feed_url=absolute("public.podcast", code=area.code),
        items=items,
        audio_url=lambda i: absolute("public.audio", code=i.commune.code, item=i.id),
        item_url=lambda i: absolute("public.item", code=i.commune.code, item=i.id),
        image_url=absolute("public.cover", code=area.code),
    )
    response = make_response(body)
    response.mimetype = "application/rss+xml"
    return _shareable(_cached(response))


@_route("/nghe-lai/<code>/qr.png")
def qr(code: str):
    commune = _commune(code)
    response = make_response(qr_png(absolute("public.area", code=commune.code)))
    response.mimetype = "image/png"
    return _shareable(_cached(response, 24 * 3600))


@_route("/nghe-lai/<code>/cover.png")
def cover(code: str):
    """The podcast's artwork: the area's QR code, big enough for podcast apps."""
    area = _area(code)
    response = make_response(qr_png(absolute("public.area", code=area.code), scale=None))
    response.mimetype = "image/png"
    return _shareable(_cached(response, 24 * 3600))


@_route("/nghe-lai/<code>/ap-phich")
def poster(code: str):
    commune = _commune(code)
    return _cached(
        _page("public/poster.html", commune=commune, url=absolute("public.area", code=code))
    )


@_route("/lich/<code>/<secret>.ics")
def calendar(code: str, secret: str):
    session = get_session()
    commune = _commune(code)
    if not calendars.secret_matches(session, commune, secret, key=_settings().secret_key):
        abort(404)
    response = make_response(calendars.commune_calendar(session, commune, now=utcnow()))
    response.mimetype = "text/calendar"
    # Plans ahead are not public: no shared cache keeps them.
    return _cached(response, private=True)


def public_links(commune: Area | None) -> dict[str, str]:
    """For staff pages (the station page's block): the commune's public and calendar URLs."""
    if commune is None or commune.kind != AreaKind.COMMUNE:
        return {}
    secret = calendars.calendar_secret(get_session(), commune, key=_settings().secret_key)
    return {
        "page": absolute("public.area", code=commune.code),
        "qr": url_for("public.qr", code=commune.code),
        "poster": url_for("public.poster", code=commune.code),
        "podcast": absolute("public.podcast", code=commune.code),
        "calendar": absolute("public.calendar", code=commune.code, secret=secret),
    }


bp.add_app_template_global(public_links)
