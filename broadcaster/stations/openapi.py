"""The station API's OpenAPI 3.0 document (served at /api/v1/openapi.json).

Owns the paths and their responses; the component schemas come from the pydantic models
of broadcaster.stations.schemas (model_json_schema), so the limits they check are the
limits this document states.
"""

from __future__ import annotations

from typing import Any

from broadcaster.stations import commands, schemas
from broadcaster.stations.manifest import MANIFEST_HOURS
from broadcaster.stations.schemas import API_VERSION, MAX_BODY_BYTES, MAX_EVENTS, MAX_ID

# In the order the document lists them.
MODELS = (
    schemas.Error,
    schemas.ManifestItem,
    schemas.RelayItem,
    schemas.Manifest,
    schemas.Event,
    schemas.EventBatch,
    schemas.EventResult,
    schemas.Heartbeat,
    commands.Command,
    commands.CommandList,
    commands.CommandReport,
)
REF = "#/components/schemas/{model}"


def _openapi30(schema: Any) -> Any:
    """JSON Schema as OpenAPI 3.0 reads it: `anyOf [X, null]` becomes X nullable, no titles."""
    if isinstance(schema, list):
        return [_openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    options = schema.get("anyOf")
    if options and {"type": "null"} in options and len(options) == 2:
        (other,) = (option for option in options if option != {"type": "null"})
        rest = {key: value for key, value in schema.items() if key != "anyOf"}
        return _openapi30({**rest, **other, "nullable": True})
    return {
        key: _openapi30(value)
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str))
    }


def components() -> dict[str, Any]:
    """The component schemas, by name, from the models (each model's own and those it uses)."""
    found: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(by_alias=True, ref_template=REF)
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return {name: _openapi30(schema) for name, schema in found.items()}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.0 description of the station API (served at /api/v1/openapi.json)."""
    unauthorized = _error_response("Missing, unknown or revoked token")
    too_many = {
        **_error_response(
            "Too many requests from this token (or, for bad tokens, from this address); "
            "send nothing more before Retry-After seconds"
        ),
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Broadcaster station API",
            "version": API_VERSION,
            "description": (
                "What a station agent uses: its manifest of plays for the next "
                f"{MANIFEST_HOURS} h, the audio, and reports of what it played."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components(),
        },
        "paths": {
            f"/api/{API_VERSION}/manifest": {
                "get": {
                    "operationId": "getManifest",
                    "summary": f"The station's plays for the next {MANIFEST_HOURS} h",
                    "parameters": [
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The manifest",
                            "headers": {"ETag": {"schema": {"type": "string"}}},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Manifest"}
                                }
                            },
                        },
                        "304": {"description": "Unchanged since the ETag given"},
                        "401": unauthorized,
                        "429": too_many,
                    },
                }
            },
            f"/api/{API_VERSION}/push": {
                "get": {
                    "operationId": "waitForChange",
                    "summary": "Held until the station's manifest or commands change",
                    "description": (
                        "A long poll: answered 200 with the topics that changed (then fetch "
                        "the manifest with Cache-Control: no-cache), 204 when nothing did "
                        "within the server's hold (ask again), 401 as soon as the token is "
                        "revoked, 503 with Retry-After when this server holds all it may "
                        "(poll meanwhile). If-None-Match: the manifest ETag the agent has; "
                        "a stale one is answered at once. X-Push-Cursor: send back the one "
                        "the last answer carried (the changes it is as of). Every answer of "
                        "this API carries X-Server-Time (when it left) and X-Server-Received "
                        "(when its request arrived), seconds since the epoch, for the agent's "
                        "clock."
                    ),
                    "parameters": [
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "Something changed",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "topics": {
                                                "type": "array",
                                                "items": {
                                                    "type": "string",
                                                    "enum": ["manifest", "commands"],
                                                },
                                            },
                                            "server_time": {
                                                "type": "string",
                                                "format": "date-time",
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "204": {"description": "Nothing changed within the hold"},
                        "401": unauthorized,
                        "429": too_many,
                        "503": _error_response("This server holds all it may; poll meanwhile"),
                    },
                }
            },
            f"/api/{API_VERSION}/audio/{{sha256}}.mp3": {
                "get": {
                    "operationId": "getAudio",
                    "summary": "An MP3 the station's manifest refers to",
                    "description": (
                        "Supports a single-range `Range: bytes=N-` request (resuming a "
                        "download): 206 with those bytes, or 416 past the end."
                    ),
                    "parameters": [
                        {
                            "name": "sha256",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The whole file",
                            "content": {
                                "audio/mpeg": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "206": {
                            "description": "The requested bytes",
                            "content": {
                                "audio/mpeg": {"schema": {"type": "string", "format": "binary"}}
                            },
                        },
                        "304": {"description": "Unchanged"},
                        "401": unauthorized,
                        "429": too_many,
                        "404": _error_response("Not in this station's manifest"),
                        "416": {"description": "Range not satisfiable"},
                    },
                }
            },
            f"/api/{API_VERSION}/events": {
                "post": {
                    "operationId": "postEvents",
                    "summary": "Report what was played; a retried event is stored once",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/EventBatch"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored (all events of the batch, or none)",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/EventResult"}
                                }
                            },
                        },
                        "400": _error_response("Not JSON"),
                        "401": unauthorized,
                        "429": too_many,
                        "403": _error_response("An occurrence of another station"),
                        "409": _error_response("An event id used by another station"),
                        "413": _error_response(f"A body over {MAX_BODY_BYTES // 1024 // 1024} MB"),
                        "415": _error_response("Not application/json"),
                        "422": _error_response(f"Invalid events, or more than {MAX_EVENTS}"),
                    },
                }
            },
            f"/api/{API_VERSION}/heartbeat": {
                "post": {
                    "operationId": "postHeartbeat",
                    "summary": "The agent is alive: version, free disk, player state",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Heartbeat"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Recorded; with the province's pending commands",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CommandList"}
                                }
                            },
                        },
                        "400": _error_response("Not JSON"),
                        "401": unauthorized,
                        "429": too_many,
                        "413": _error_response("Too large a body"),
                        "415": _error_response("Not application/json"),
                        "422": _error_response("Invalid fields"),
                    },
                }
            },
            f"/api/{API_VERSION}/commands": {
                "get": {
                    "operationId": "getCommands",
                    "summary": "The province's commands not yet reported on (act on each id once)",
                    "responses": {
                        "200": {
                            "description": "Pending commands",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CommandList"}
                                }
                            },
                        },
                        "401": unauthorized,
                        "429": too_many,
                    },
                }
            },
            f"/api/{API_VERSION}/commands/{{command_id}}/result": {
                "post": {
                    "operationId": "postCommandResult",
                    "summary": "What the agent did with a command; a repeated report is kept once",
                    "parameters": [
                        {
                            "name": "command_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                            "example": 1,
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CommandReport"}
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "Stored (or already stored)"},
                        "400": _error_response("Not JSON"),
                        "401": unauthorized,
                        "413": _error_response("Too large a body"),
                        "404": _error_response("Not a command of this station"),
                        "415": _error_response("Not application/json"),
                        "422": _error_response("Invalid state or result"),
                        "429": too_many,
                    },
                }
            },
            f"/api/{API_VERSION}/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.0 document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
    }
