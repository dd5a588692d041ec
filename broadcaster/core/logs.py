"""Logging for every process: human text by default, one JSON object per line on request.

BROADCASTER_LOG_FORMAT=json is for log shippers (journald → Loki, Elasticsearch...): each
line is an object with time (ISO 8601, UTC), level, logger and message, plus whatever
context the code passes with `extra=` (station, occurrence_id, ...) and the traceback.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = {"levelname": "level", "name": "logger", "exc_info": "traceback"}


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    class Formatter(JsonFormatter):
        def add_fields(self, log_data, record, message_dict) -> None:
            # The time first, so a person reading the raw lines still scans them easily.
            log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            )
            super().add_fields(log_data, record, message_dict)

    return Formatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields=JSON_FIELDS,
        json_ensure_ascii=False,  # Vietnamese stays readable
    )


def formatter(fmt: str, text_format: str = TEXT_FORMAT) -> logging.Formatter:
    return json_formatter() if fmt == "json" else logging.Formatter(text_format)


def configure(fmt: str, *, level: int = logging.INFO, text_format: str = TEXT_FORMAT) -> None:
    """Send every logger's records to stderr in `fmt` ("text" or "json"); replaces handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt, text_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Alembic announces each of its plugins at INFO whenever it is imported.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def gunicorn_logconfig_dict(fmt: str) -> dict:
    """gunicorn's `logconfig_dict` so its own messages (and access log) use `fmt` too.

    In gunicorn.conf.py:
        from broadcaster.core.config import log_format
        from broadcaster.core.logs import gunicorn_logconfig_dict
        logconfig_dict = gunicorn_logconfig_dict(log_format(dict(os.environ)))
    """
    generic = (
        {"()": "broadcaster.core.logs.json_formatter"}
        if fmt == "json"
        else {"format": TEXT_FORMAT, "class": "logging.Formatter"}
    )
    stream = {
        "class": "logging.StreamHandler",
        "formatter": "generic",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
        "handlers": {"console": stream},
        "formatters": {"generic": generic},
    }
