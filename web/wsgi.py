"""WSGI entry point for production servers: `gunicorn web.wsgi:app` (and `broadcaster web`).

Settings come from BROADCASTER_* environment variables (or *_FILE), as for every command.
Logging is set up here, not in create_app: tests and embedders keep their own.
"""

from broadcaster.core import logs
from broadcaster.core.config import load_settings
from web import create_app

settings = load_settings()
logs.configure(settings.log_format)
app = create_app({"SETTINGS": settings})
