"""The station API v1 (JSON, bearer tokens): a thin layer over broadcaster.stations.api.

It is its own small Flask app, mounted at /api/v1 in front of the web UI (create_api_app):
agents poll it every minute by the thousand, and none of the UI's per-request machinery
(session cookie, login manager, CSRF, locale) has anything to do with a bearer token.
Every error is JSON ({"error": ..., "status": ...}); nothing here renders HTML.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from broadcaster.core.config import Settings
from broadcaster.core.dbtypes import utcnow
from broadcaster.stations import api as stationapi
from broadcaster.stations import commands
from broadcaster.stations.heartbeats import HeartbeatBuffer
from broadcaster.stations.manifestcache import ManifestCache
from broadcaster.stations.push import PushFull, PushHub
from broadcaster.stations.ratelimit import StationLimiter, retry_after
from web import security
from web.audiofiles import audio_response
from web.db import close_session, get_session
from web.health import instrument

log = logging.getLogger(__name__)

MOUNT = f"/api/{stationapi.API_VERSION}"
MANIFESTS = "station_api_manifests"
HEARTBEATS = "station_api_heartbeats"
LIMITER = "station_api_limiter"
COMMANDS = "station_api_commands"
PUSH = "station_api_push"
# Seconds since the epoch, to the microsecond: when the answer left (Time) and when its
# request arrived (Received), so an agent can leave the server's own work out of its
# clock offset, as NTP does with its receive and transmit stamps.
SERVER_TIME = "X-Server-Time"
SERVER_RECEIVED = "X-Server-Received"
PUSH_CURSOR = "X-Push-Cursor"  # the change log id an agent's push answer is as of
bp = Blueprint("api", __name__)
instrument(bp)

AUDIO_MAX_AGE = 365 * 24 * 3600
UNAUTHORIZED = "missing, unknown or revoked station token"


def _error(status: int, message: str) -> Response:
    response = jsonify(error=message, status=status)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="station"'
    return response


def create_api_app(settings: Settings, engine: Engine) -> Flask:
    """The station API as a WSGI app of its own, sharing the web app's engine."""
    app = Flask(__name__, static_folder=None)
    # 413 past 1 MB: every body the API takes is a JSON batch or heartbeat.
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=stationapi.MAX_BODY_BYTES)
    app.extensions["engine"] = engine
    app.extensions[MANIFESTS] = ManifestCache(engine) if engine.dialect.name == "sqlite" else None
    app.extensions[HEARTBEATS] = HeartbeatBuffer(engine)
    app.extensions[COMMANDS] = commands.OpenCommands(engine)
    app.extensions[LIMITER] = _limiter(settings)
    app.extensions[PUSH] = PushHub(engine, max_held=settings.push_max_held)
    app.teardown_appcontext(close_session)
    app.before_request(_arrived)
    app.after_request(_server_time)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    # The manifest's SQLite fast path talks to the driver directly ("database is locked").
    app.register_error_handler(sqlite3.OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
    app.wsgi_app = security.with_api_headers(app.wsgi_app)
    return app


def mounted(api_app: Flask, *, in_front_of):
    """A WSGI app sending MOUNT/... to the station API and everything else to the web UI.

    werkzeug's DispatcherMiddleware does the same for any number of mounts, at a cost
    that shows on the most frequent request the server answers.
    """
    prefix = MOUNT + "/"

    def dispatch(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(prefix) or path == MOUNT:
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + MOUNT
            environ["PATH_INFO"] = path[len(MOUNT) :]
            return api_app(environ, start_response)
        return in_front_of(environ, start_response)

    return dispatch


def _arrived() -> None:
    g.server_received = time.time()


def _server_time(response: Response) -> Response:
    # Every answer, refusals too: the agent sets its clock by each contact.
    response.headers[SERVER_TIME] = f"{time.time():.6f}"
    received = g.get("server_received")
    if received is not None:
        response.headers[SERVER_RECEIVED] = f"{received:.6f}"
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = _error(status, error.name.lower())
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def _database_unavailable(error: Exception) -> Response:
    log.exception("database error on %s", request.path)
    response = _error(503, "database unavailable, try again later")
    response.headers["Retry-After"] = "30"
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s", request.path)
    return _error(500, "internal error")


# --- rate limits (broadcaster/stations/ratelimit.py) ---------------------------------------------


def _limiter(settings: Settings) -> StationLimiter | None:
    if not settings.api_rate_per_minute:
        return None  # BROADCASTER_API_RATE_PER_MINUTE=0: nginx alone limits
    return StationLimiter(
        per_minute=settings.api_rate_per_minute,
        burst=settings.api_burst,
        failures_per_minute=settings.api_failures_per_minute,
        failure_burst=settings.api_failure_burst,
    )


@bp.before_request
def rate_limit() -> Response | None:
    limiter = current_app.extensions[LIMITER]
    if limiter is None:
        return None
    token = stationapi.parse_bearer(request.headers.get("Authorization"))
    verdict = limiter.check(token, request.remote_addr or "")
    if verdict.wait:
        seconds = retry_after(verdict.wait)
        response = _error(429, f"too many requests; retry after {seconds} s")
        response.headers["Retry-After"] = str(seconds)
        return response
    g.api_verdict = verdict
    return None


@bp.after_request
def settle_limits(response: Response) -> Response:
    verdict = g.pop("api_verdict", None)
    if verdict is not None:
        current_app.extensions[LIMITER].settle(
            verdict,
            authenticated=g.get("api_station_ok", False),
            refused=response.status_code == 401,
        )
    return response


def _authenticated() -> None:
    g.api_station_ok = True


@bp.errorhandler(stationapi.ApiError)
def api_error(error: stationapi.ApiError) -> Response:
    return _error(error.status, error.message)


def _station() -> stationapi.StationRef:
    token = stationapi.parse_bearer(request.headers.get("Authorization"))
    # Through the engine, outside the request's session: a POST's session takes SQLite's
    # write lock at its first statement, and the token check need not hold it.
    station = stationapi.station_for_token(current_app.extensions["engine"], token)
    if station is None:
        raise stationapi.ApiError(401, UNAUTHORIZED)
    _authenticated()
    return station


def _json_body():
    if request.mimetype != "application/json":
        raise stationapi.ApiError(415, "send application/json")
    return stationapi.parse_json(request.get_data(cache=False))


@bp.get("/openapi.json")
def openapi():
    return jsonify(stationapi.openapi_document())


def _built_manifest(token: str | None, now, *, fresh: bool, seen: int | None = None):
    manifests = current_app.extensions[MANIFESTS]
    if manifests is not None:
        return manifests.manifest(token, now=now, fresh=fresh, seen=seen)
    # The engine, not a session: a read this frequent need not open a transaction.
    return stationapi.manifest_for_token(current_app.extensions["engine"], token, now=now)


@bp.get("/manifest")
def manifest():
    token = stationapi.parse_bearer(request.headers.get("Authorization"))
    now = utcnow()
    cursor = request.headers.get(PUSH_CURSOR, "")
    built = _built_manifest(
        token,
        now,
        fresh=bool(request.cache_control.no_cache),
        seen=int(cursor) if cursor.isdigit() else None,
    )
    if built is None:
        raise stationapi.ApiError(401, UNAUTHORIZED)
    _authenticated()
    if request.if_none_match.contains_weak(built.etag):
        response = Response(status=304)  # unchanged: empty body
    else:
        response = Response(built.json_bytes(now), mimetype="application/json")
    response.set_etag(built.etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/audio/<name>")
def audio(name: str):
    station = _station()
    sha256, dot, extension = name.partition(".")
    record = None
    if dot and extension == "mp3":
        record = stationapi.audio_for_station(get_session(), station, sha256, now=utcnow())
    if record is None:
        raise stationapi.ApiError(404, "no such audio in this station's manifest")
    response = audio_response(
        record,
        download_name=f"{record.sha256}.mp3",
        max_age=AUDIO_MAX_AGE,
        last_modified=record.created_at,
    )
    if response is None:
        raise stationapi.ApiError(404, "audio file missing on the server")
    response.cache_control.public = False  # the station's own, behind its token
    response.cache_control.private = True
    response.cache_control.immutable = True
    return response


@bp.post("/events")
def events():
    station = _station()
    payload = _json_body()
    session = get_session()
    try:
        result = stationapi.ingest_events(session, station, payload, now=utcnow())
        session.commit()
    except IntegrityError:
        # The same events raced in twice (a retry before the first answer): the other
        # request stored them; again, they count as duplicates.
        session.rollback()
        result = stationapi.ingest_events(session, station, payload, now=utcnow())
        session.commit()
    return jsonify(result)


@bp.post("/heartbeat")
def heartbeat():
    station = _station()
    now = utcnow()
    beat = stationapi.heartbeat_values(_json_body(), now=now)
    current_app.extensions[HEARTBEATS].add(station.id, beat)  # written within a second
    # The province's commands ride on the answer: the agent needs no extra request. A
    # database too busy to say loses nothing: they wait for the next beat.
    try:
        pending = current_app.extensions[COMMANDS].pending(station.id, now=now)
    except OperationalError:
        log.warning("heartbeat: commands of station %s not read (database busy)", station.code)
        pending = []
    return jsonify(server_time=now.astimezone(UTC).isoformat(), commands=pending)


@bp.get("/commands")
def station_commands():
    """The station's pending commands (what the heartbeat's answer carries), at once."""
    station = _station()
    now = utcnow()
    pending = commands.pending_for(current_app.extensions["engine"], station.id, now=now)
    return jsonify(server_time=now.astimezone(UTC).isoformat(), commands=pending)


@bp.post("/commands/<int:command_id>/result")
def command_result(command_id: int):
    station = _station()
    payload = _json_body()
    session = get_session()
    result = commands.record_result(session, station, command_id, payload, now=utcnow())
    session.commit()
    return jsonify(result)


@bp.get("/push")
def push():
    """Held until this station's manifest or commands change (200) or the hold ends (204).

    If-None-Match carries the agent's manifest ETag: a manifest that already differs is
    answered at once, so nothing changed between its last sync and this request is lost.
    The token is checked again after every wake: a revoked token's request ends with 401.
    """
    token = stationapi.parse_bearer(request.headers.get("Authorization"))
    station = _station()
    hub = current_app.extensions[PUSH]
    try:
        waiter = hub.register(station.id, stationapi.hash_token(token or ""))
    except PushFull:
        # Busy holding others: this agent polls meanwhile and asks again later.
        response = _error(503, "push is full on this server; poll the manifest")
        response.headers["Retry-After"] = "60"
        return response
    try:
        topics = _held(token, hub, waiter, current_app.config["SETTINGS"].push_hold_seconds)
    finally:
        hub.release(waiter)
    if not topics:
        response = Response(status=204)
    else:
        response = jsonify(topics=sorted(topics))
    # What the agent sends back with its next request (after its sync, if told of one).
    response.headers[PUSH_CURSOR] = str(hub.cursor())
    return response


def _held(token: str | None, hub: PushHub, waiter, hold_s: float) -> set[str]:
    """What changed for this station within hold_s (empty: nothing); ApiError 401 when
    its token no longer works."""
    # Registered before looking: a change after this look wakes the waiter.
    cursor = request.headers.get(PUSH_CURSOR, "")
    missed = hub.since(waiter.station_id, int(cursor)) if cursor.isdigit() else None
    if missed:
        return missed
    if missed is None:  # no cursor, or one from before this process: the manifest says
        built = _built_manifest(token, utcnow(), fresh=True)
        if built is None:
            raise stationapi.ApiError(401, UNAUTHORIZED)
        if not request.if_none_match.contains_weak(built.etag):
            return {"manifest"}
    topics = waiter.wait(hold_s)
    # Not the manifest: thousands are woken together by an emergency, and each agent's
    # own conditional GET (a 304 when the change was not its) is the one manifest built
    # for it. The hub looked at every woken station's token in one query.
    if waiter.revoked:
        raise stationapi.ApiError(401, UNAUTHORIZED)
    return topics
