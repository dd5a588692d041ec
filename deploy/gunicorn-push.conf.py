"""gunicorn settings for the station API's push route (GET /api/v1/push) alone:
`gunicorn -c deploy/gunicorn-push.conf.py web.wsgi:app`, behind nginx's `location =
/api/v1/push` (deploy/nginx/broadcaster.conf). Everything else stays on gunicorn.conf.py.

A held request waits up to BROADCASTER_PUSH_HOLD_SECONDS for a change. In a gthread
worker it would occupy one of the four threads; a gevent worker holds thousands, each a
greenlet and a socket (docs/OPERATIONS.md: measured memory per held connection). The
same app is loaded, so tokens, rate limits and revocation are those of every other route.
"""

import os
from pathlib import Path

# The shared settings (logging, proxies, worker_tmp_dir, metrics hooks), then ours.
exec(Path(__file__).with_name("gunicorn.conf.py").read_text())

bind = "127.0.0.1:8001"
# One gevent worker per core holds about 10,000 agents; more workers spread the wakes.
workers = int(os.environ.get("BROADCASTER_PUSH_WORKERS", 1))
worker_class = "gevent"
worker_connections = int(os.environ.get("BROADCASTER_PUSH_CONNECTIONS", 20_000))
# Agents come back every hold (50 s) and after each change: a queue as long as the fleet.
backlog = 8192
# Held requests outlive gthread's budget; a gevent worker's timeout is about its own
# liveness (it must not block the loop), not about a request.
timeout = 120
keepalive = 75
# A restart drops held requests: agents come back with jittered backoff, and each one's
# first request compares its manifest ETag, so nothing changed meanwhile is missed.
graceful_timeout = 5
max_requests = 0  # recycling would cut thousands of held requests at once
# Every agent asks again every hold and after each change: at 100,000 agents 2,000 lines a
# second of nothing to read (nginx's access log still has them).
accesslog = None
max_requests_jitter = 0


def on_starting(server):
    # The UI's gunicorn clears PROMETHEUS_MULTIPROC_DIR when it starts; this one must not
    # wipe the files of workers that are running (give it a directory of its own).
    pass
