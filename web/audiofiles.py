"""One way to answer with a rendered MP3, for every route that serves one.

In production (BROADCASTER_AUDIO_ACCEL_REDIRECT set) Python never streams the bytes:
the answer carries the same status and headers it would have had, no body, and an
X-Accel-Redirect into nginx's `internal` location, which sends the file and handles
Range itself. Authorization stays here: nginx serves only what the app redirects to.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, current_app, send_file

from broadcaster.audio.objectstore import RemoteError
from broadcaster.audio.render import store_for
from broadcaster.core.models import AudioFile


def audio_response(
    audio: AudioFile,
    *,
    download_name: str,
    as_attachment: bool = False,
    max_age: int | None = None,
    last_modified: datetime | None = None,
) -> Response | None:
    """The MP3 with ETag = its sha256 and conditional/Range support; None if it is gone."""
    settings = current_app.config["SETTINGS"]
    store = store_for(settings)
    try:
        path = store.local(audio)
    except RemoteError:
        current_app.logger.exception("audio %s: object store unavailable", audio.sha256)
        abort(503)
    if path is None:
        current_app.logger.error("audio %s is recorded but its file is missing", audio.sha256)
        return None
    # Werkzeug decides the status and headers (304, 416, Content-Disposition, caching)
    # exactly as when Python sends the file; only the body changes hands below.
    response = send_file(
        path,
        mimetype="audio/mpeg",
        as_attachment=as_attachment,
        download_name=download_name,
        conditional=True,
        etag=audio.sha256,
        max_age=max_age,
        last_modified=last_modified,
    )
    prefix = settings.audio_accel_redirect
    if prefix is None or response.status_code not in (200, 206):
        return response
    response.close()  # the open file: nginx reads it, not us
    # nginx applies the client's Range to the whole file itself.
    response.status_code = 200
    response.headers.pop("Content-Range", None)
    response.set_data(b"")
    response.headers["X-Accel-Redirect"] = prefix + audio.path
    return response
