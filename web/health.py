"""Health checks and Prometheus metrics, for load balancers, systemd and monitoring.

/healthz and /healthz/scheduler need no login (a load balancer has none) and answer 200
or 503 with a JSON reason; the details (migration, scheduler pid and host, ...) only go
to monitoring clients. /metrics is for monitoring clients only: the direct peer is in
BROADCASTER_METRICS_ALLOW (default loopback) and the request did not come through a
proxy, or it carries BROADCASTER_METRICS_TOKEN as a bearer token.
"""

from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlmodel import Session

from broadcaster.core.dbtypes import utcnow
from broadcaster.ops.health import database_status, scheduler_status
from broadcaster.ops.metrics import API_LATENCY, CONTENT_TYPE, exposition

bp = Blueprint("health", __name__)

# A request with one of these came through a reverse proxy on this machine: its peer
# address is the proxy's loopback, not the client's, so only the token can admit it.
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def monitoring_client() -> bool:
    settings = current_app.config["SETTINGS"]
    if settings.metrics_token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), settings.metrics_token.encode()
        ):
            return True
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        peer = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(peer in network for network in settings.metrics_networks)


def _answer(component: str, status) -> Response:
    body = status.as_dict(component, details=monitoring_client())
    response = jsonify(body)
    response.status_code = 200 if status.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    """The web process answers, the database answers and its schema is current."""
    return _answer("web", database_status(current_app.extensions["engine"]))


@bp.get("/healthz/scheduler")
def healthz_scheduler():
    engine = current_app.extensions["engine"]
    database = database_status(engine)
    if not database.ok:
        return _answer("scheduler", database)
    with Session(engine) as session:
        status = scheduler_status(
            session,
            now=utcnow(),
            heartbeat_seconds=current_app.config["SETTINGS"].heartbeat_seconds,
        )
    return _answer("scheduler", status)


@bp.get("/metrics")
def metrics():
    if not monitoring_client():
        response = jsonify(error="metrics are for monitoring clients only", status=403)
        response.status_code = 403
        return response
    body = exposition(current_app.extensions["engine"], current_app.config["SETTINGS"])
    return Response(body, content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def instrument(blueprint: Blueprint) -> None:
    """Time every request of `blueprint` into the API latency histogram.

    Hooks on the blueprint itself, so the measurement goes wherever the blueprint is
    registered (the main app, or an app of its own mounted at /api/v1).
    """

    @blueprint.before_request
    def _start_timer():
        g.api_started = time.perf_counter()

    @blueprint.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("api_started", None)
        if started is not None:
            API_LATENCY.labels(
                endpoint=request.endpoint or "unmatched",
                method=request.method,
                code=str(response.status_code),
            ).observe(time.perf_counter() - started)
        return response
