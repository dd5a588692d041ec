"""The station API's shapes: its request bodies and responses, declared once with their limits.

Owns what an agent may send (an events batch, a heartbeat) and what it is sent (the
manifest, results, errors) as pydantic models. The checks (model_validate) and the
OpenAPI components (model_json_schema, see openapi.py) both come from these models, so
a limit is written in one place. Refusals are ApiError: 400 not JSON, 413 too large a
body, 422 a body the models refuse, with an English message naming the field.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from broadcaster.core.errors import BroadcasterError
from broadcaster.core.events import AGENT_EVENT_KINDS

API_VERSION = "v1"
MAX_EVENTS = 500
MAX_BODY_BYTES = 1024 * 1024
MAX_DETAIL = 1000
MAX_INSTANT = 64  # characters of an ISO 8601 date-time, with room for fractions and offset
# INTEGER columns: 32 bits on PostgreSQL (SQLite would take 64).
MAX_ID = 2**31 - 1
MAX_OFFSET_S = 366 * 24 * 3600.0
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
UID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class ApiError(BroadcasterError):
    """A request the API refuses; `status` is the HTTP status, the message is safe to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_json(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "body is not valid JSON") from None


def _utc(text: str) -> datetime:
    """An ISO 8601 date-time with an offset, as an aware UTC datetime (ValueError if not)."""
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError("no offset")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("must be an ISO 8601 date-time with an offset") from None


def parse_instant(value: Any, name: str) -> datetime:
    """An ISO 8601 date-time with an offset, as an aware UTC datetime."""
    if not isinstance(value, str) or len(value) > MAX_INSTANT:
        raise ApiError(422, f"{name} must be an ISO 8601 date-time string with an offset")
    try:
        return _utc(value)
    except ValueError as exc:
        raise ApiError(422, f"{name} {exc}") from None


def _sanitized(text: str) -> str:
    # PostgreSQL text cannot hold NUL (a player's error message might carry one).
    return text.replace("\x00", "\ufffd")


def _text(limit: int):
    return Annotated[StrictStr, Field(max_length=limit), AfterValidator(_sanitized)]


# A whole number 0..MAX_ID (what an INTEGER column holds); strict, so a bool is not one.
RowId = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
Instant = Annotated[
    StrictStr,
    Field(max_length=MAX_INSTANT, json_schema_extra={"format": "date-time"}),
    AfterValidator(_utc),
]
Kind = Literal[tuple(str(kind) for kind in AGENT_EVENT_KINDS)]  # type: ignore[valid-type]


class Event(BaseModel):
    """One play event an agent reports; `id` is the agent's, so a retry is stored once."""

    model_config = ConfigDict(frozen=True)

    uid: Annotated[StrictStr, Field(pattern=UID_RE.pattern)] = Field(alias="id")
    occurrence_id: RowId
    kind: Kind
    at: Instant
    detail: _text(MAX_DETAIL) = ""  # type: ignore[valid-type]


class EventBatch(BaseModel):
    events: Annotated[list[Event], Field(max_length=MAX_EVENTS)]


class Heartbeat(BaseModel):
    """The agent is alive: its version, player, disk and cache, and its last sync."""

    version: _text(64) = ""  # type: ignore[valid-type]
    free_disk_mb: RowId | None = None
    player_state: _text(32) = ""  # type: ignore[valid-type]
    last_sync: Instant | None = None
    cache_files: RowId | None = None
    # Issue 15: the amplifier ("on", "off", "" when no hook is set), its hook's last
    # failure, the mixer control ("none": no ALSA mixer), the volume and the machine's
    # temperature where it offers one.
    amplifier: _text(16) = ""  # type: ignore[valid-type]
    amplifier_error: _text(200) = ""  # type: ignore[valid-type]
    mixer: _text(64) = ""  # type: ignore[valid-type]
    volume_percent: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    temperature_c: Annotated[float, Field(strict=True, ge=-60, le=200)] | None = None
    # Server time minus the agent's clock, seconds (NTP-style, issue 16); a year at most.
    clock_offset_s: (
        Annotated[float, Field(strict=True, ge=-MAX_OFFSET_S, le=MAX_OFFSET_S)] | None
    ) = None


# --- responses: declared for the OpenAPI document; the hot path builds plain dicts ---


class ManifestItem(BaseModel):
    """A file to play: an approved version's audio."""

    occurrence_id: int
    at: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    priority: Literal["normal", "priority", "emergency"]
    schedule_id: int
    title: str
    kind: Literal["audio"] = "audio"
    version: int
    audio_url: str
    sha256: Annotated[str, Field(pattern=SHA256_RE.pattern)]
    size: Annotated[int, Field(ge=0)]
    duration_s: Annotated[float, Field(ge=0)]
    repeat: Annotated[int, Field(ge=1)]
    order: Annotated[int, Field(ge=0)] = 0  # colliding priority items: lower plays first


class StreamRef(BaseModel):
    id: int
    name: str
    url: str
    kind: Literal["mp3", "aac", "hls"]


class FallbackAudio(BaseModel):
    """What plays while a relayed stream is down: an approved bulletin's audio."""

    sha256: Annotated[str, Field(pattern=SHA256_RE.pattern)]
    size: Annotated[int, Field(ge=0)]
    duration_s: Annotated[float, Field(ge=0)]
    audio_url: str


class RelayItem(BaseModel):
    """A stream to relay from `at` for `duration_s` (an approved stream source)."""

    occurrence_id: int
    at: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    priority: Literal["normal", "priority", "emergency"]
    schedule_id: int
    title: str
    kind: Literal["relay"]
    stream: StreamRef
    duration_s: Annotated[float, Field(ge=0)]
    fallback: FallbackAudio | None


class StationInfo(BaseModel):
    code: str
    name: str
    timezone: str


class ServerTime(BaseModel):
    server_time: Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Manifest(ServerTime):
    api_version: str
    station: StationInfo
    grace_s: int
    items: list[Annotated[ManifestItem | RelayItem, Field(discriminator="kind")]]


class EventResult(ServerTime):
    accepted: int
    duplicate: int


class Error(BaseModel):
    error: str
    status: int


def _refusal(error: ValidationError, what: str) -> ApiError:
    """The first thing the model refused, as an ApiError 422 naming the field."""
    first = error.errors(include_url=False, include_context=False, include_input=False)[0]
    if not first["loc"]:
        return ApiError(422, f"body must be {what}")
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return ApiError(422, f"{where.lstrip('.')}: {message}")


def parse_events(payload: Any) -> list[Event]:
    """An events batch checked against EventBatch (ApiError 422 if refused)."""
    try:
        return EventBatch.model_validate(payload).events
    except ValidationError as exc:
        raise _refusal(exc, "an object with an 'events' list") from None


def heartbeat_values(payload: Any, *, now: datetime) -> dict[str, Any]:
    """A heartbeat's body checked, as the station's StationBeat columns."""
    try:
        beat = Heartbeat.model_validate(payload)
    except ValidationError as exc:
        raise _refusal(exc, "an object") from None
    # Not model_dump(): Instant fields hold the parsed datetime, not the string declared.
    return {"seen_at": now, **dict(beat)}
