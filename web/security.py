"""Security headers for pages and for the station API, and trusted reverse proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import Response, request

# No inline script, style or event handler anywhere (tests/web/test_security.py checks
# every template), so the policy needs no 'unsafe-inline'.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# JSON and audio for agents: nothing in them may run or be framed if a browser opens them.
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "bluetooth=(), midi=(), magnetometer=(), gyroscope=(), accelerometer=()"
)
# Browsers keep to HTTPS for a year once they have seen this over HTTPS. Sent only on
# requests that came over TLS (directly, or through a trusted proxy that says so).
HSTS = "max-age=31536000"


_COMMON = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)
_PAGE = (*_COMMON, ("X-Frame-Options", "DENY"), ("Content-Security-Policy", PAGE_CSP))
_API = (*_COMMON, ("Content-Security-Policy", API_CSP), ("X-Frame-Options", "DENY"))
_TLS = (("Strict-Transport-Security", HSTS),)


def _add_missing(response: Response, defaults: tuple, secure: bool) -> None:
    # One pass over the response's headers, not one per default (Headers.setdefault
    # scans them all each time): this runs on every manifest poll of every agent.
    headers = response.headers
    present = {key.lower() for key, _value in headers.items()}
    wanted = defaults + _TLS if secure else defaults
    headers.extend([(key, value) for key, value in wanted if key.lower() not in present])


def page_headers(response: Response) -> Response:
    """For the web UI (an app-wide after_request)."""
    _add_missing(response, _PAGE, request.is_secure)
    if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
        # Pages show people's work, one-time passwords and station tokens: nothing a
        # shared commune office computer or a proxy should keep after logout.
        response.headers["Cache-Control"] = "no-store"
    return response


def with_api_headers(wsgi_app):
    """WSGI middleware for the station API: the same defaults, added where WSGI starts the
    response. Every agent polls every minute; werkzeug's header bookkeeping for seven
    constant headers cost more than the manifest's database read.
    """
    api = tuple((key, value, key.lower()) for key, value in _API)
    tls = tuple((key, value, key.lower()) for key, value in _TLS)

    def app(environ, start_response):
        secure = environ.get("wsgi.url_scheme") == "https"

        def starting(status, headers, exc_info=None):
            present = {key.lower(): value for key, value in headers}
            for key, value, lowered in api + tls if secure else api:
                if lowered not in present:
                    headers.append((key, value))
            if "cache-control" not in present and present.get("content-type", "").startswith(
                "application/json"
            ):
                # The manifest sets its own (no-cache + ETag); other answers are not kept.
                headers.append(("Cache-Control", "no-store"))
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, starting)

    return app


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """WSGI middleware: believe X-Forwarded-For/-Proto only from the proxies we run.

    werkzeug's ProxyFix trusts a fixed number of hops from anyone who connects; here the
    peer must be one of BROADCASTER_TRUSTED_PROXIES, so a client reaching the app
    directly cannot claim another address (to dodge login throttling) or claim HTTPS.
    The client is the nearest address in X-Forwarded-For that is not a trusted proxy.
    """

    def __init__(self, app, networks: Iterable[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ, start_response):
        if self.networks and self._trusted(environ.get("REMOTE_ADDR", "")):
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            for hop in reversed([h for h in hops if h]):
                try:
                    ipaddress.ip_address(hop)
                except ValueError:
                    break  # junk: keep the last address we could believe
                environ["REMOTE_ADDR"] = hop
                if not self._trusted(hop):
                    break
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)
