"""The station API's logic, the public face web/api.py imports as `stationapi`.

Flask-free: web/api.py is a thin layer over these functions, which take the session
explicitly and never commit (the request owns the transaction). The parts live beside
this module: tokens (issuing them, a token's station), manifest (what a station plays,
its audio), schemas (request and response shapes, their limits, ApiError), events (an
agent's play events), heartbeats (the agent's beats) and openapi (the document).
"""

from __future__ import annotations

from broadcaster.stations.events import ingest_events
from broadcaster.stations.heartbeats import record_heartbeat, store_heartbeats
from broadcaster.stations.manifest import (
    MANIFEST_HOURS,
    MANIFEST_STATUSES,
    PRIORITY_NAMES,
    Manifest,
    audio_for_station,
    audio_url,
    build_manifest,
    manifest_for_token,
)
from broadcaster.stations.openapi import openapi_document
from broadcaster.stations.schemas import (
    API_VERSION,
    MAX_BODY_BYTES,
    MAX_DETAIL,
    MAX_EVENTS,
    MAX_ID,
    SHA256_RE,
    UID_RE,
    ApiError,
    Event,
    heartbeat_values,
    parse_events,
    parse_instant,
    parse_json,
)
from broadcaster.stations.tokens import (
    StationRef,
    create_station_with_token,
    hash_token,
    new_token,
    parse_bearer,
    revoke_token,
    rotate_token,
    station_for_token,
)

__all__ = [
    "API_VERSION",
    "MANIFEST_HOURS",
    "MANIFEST_STATUSES",
    "MAX_BODY_BYTES",
    "MAX_DETAIL",
    "MAX_EVENTS",
    "MAX_ID",
    "PRIORITY_NAMES",
    "SHA256_RE",
    "UID_RE",
    "ApiError",
    "Event",
    "Manifest",
    "StationRef",
    "audio_for_station",
    "audio_url",
    "build_manifest",
    "create_station_with_token",
    "hash_token",
    "heartbeat_values",
    "ingest_events",
    "manifest_for_token",
    "new_token",
    "openapi_document",
    "parse_bearer",
    "parse_events",
    "parse_instant",
    "parse_json",
    "record_heartbeat",
    "revoke_token",
    "rotate_token",
    "station_for_token",
    "store_heartbeats",
]
