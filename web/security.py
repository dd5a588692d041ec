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


def _common(response: Response, secure: bool) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if secure:
        headers.setdefault("Strict-Transport-Security", HSTS)


def page_headers(response: Response) -> Response:
    """For the web UI (an app-wide after_request)."""
    _common(response, request.is_secure)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    if response.mimetype == "text/html" and "Cache-Control" not in response.headers:
        # Pages show people's work, one-time passwords and station tokens: nothing a
        # shared commune office computer or a proxy should keep after logout.
        response.headers["Cache-Control"] = "no-store"
    return response


def api_headers(response: Response, *, secure: bool) -> Response:
    """For the station API (the blueprint's after_request, so it travels with it)."""
    _common(response, secure)
    response.headers.setdefault("Content-Security-Policy", API_CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "application/json":
        # The manifest sets its own (no-cache + ETag); other answers are not for keeping.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


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
