"""WSGI entry point for production servers: `gunicorn web.wsgi:app`.

Settings come from BROADCASTER_* environment variables (or *_FILE), as for every command.
"""

from web import create_app

app = create_app()
