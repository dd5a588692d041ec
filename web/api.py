"""The station API v1 (JSON, bearer tokens): a thin layer over broadcaster.stationapi.

Every error is JSON ({"error": ..., "status": ...}); nothing here renders HTML or uses
the login session, so the blueprint is exempt from CSRF (agents send no cookies).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from broadcaster import stationapi
from broadcaster.dbtypes import utcnow
from web import csrf
from web.audiofiles import audio_response
from web.db import get_session

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

AUDIO_MAX_AGE = 365 * 24 * 3600
UNAUTHORIZED = "missing, unknown or revoked station token"


def _error(status: int, message: str) -> Response:
    response = jsonify(error=message, status=status)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="station"'
    return response


@bp.after_app_request
def allow_header(response: Response) -> Response:
    # The app's JSON error handler drops the headers of HTTP errors; RFC 9110 wants Allow
    # on a 405. (Could move to web/errors.py, for every route.)
    if response.status_code == 405 and request.path.startswith(bp.url_prefix + "/"):
        if "Allow" not in response.headers:
            adapter = current_app.url_map.bind_to_environ(request.environ)
            response.headers["Allow"] = ", ".join(sorted(adapter.allowed_methods()))
    return response


@bp.errorhandler(stationapi.ApiError)
def api_error(error: stationapi.ApiError) -> Response:
    return _error(error.status, error.message)


def _station() -> stationapi.StationRef:
    token = stationapi.parse_bearer(request.headers.get("Authorization"))
    station = stationapi.station_for_token(get_session(), token)
    if station is None:
        raise stationapi.ApiError(401, UNAUTHORIZED)
    return station


def _json_body():
    if request.mimetype != "application/json":
        raise stationapi.ApiError(415, "send application/json")
    request.max_content_length = stationapi.MAX_BODY_BYTES  # 413 past 1 MB
    return stationapi.parse_json(request.get_data(cache=False))


@bp.get("/openapi.json")
def openapi():
    return jsonify(stationapi.openapi_document())


@bp.get("/manifest")
def manifest():
    token = stationapi.parse_bearer(request.headers.get("Authorization"))
    now = utcnow()
    # The engine, not a session: a read this frequent need not open a transaction.
    built = stationapi.manifest_for_token(current_app.extensions["engine"], token, now=now)
    if built is None:
        raise stationapi.ApiError(401, UNAUTHORIZED)
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
    payload = _json_body()
    session = get_session()
    result = stationapi.record_heartbeat(session, station, payload, now=utcnow())
    session.commit()
    return jsonify(result)
