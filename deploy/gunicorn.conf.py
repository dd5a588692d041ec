"""gunicorn settings for the web UI and the station API: `gunicorn -c deploy/gunicorn.conf.py
web.wsgi:app`. Command-line options (the systemd unit's --bind) override these.

Sized for a 2-core machine behind nginx: nginx holds the slow clients and sends the audio,
so each worker only ever waits on the database.
"""

import multiprocessing
import os
import shutil

from broadcaster.core.config import log_format
from broadcaster.core.logs import gunicorn_logconfig_dict

bind = "127.0.0.1:8000"
# Threads make a worker cheap to keep waiting on SQLite/PostgreSQL; processes use the cores.
workers = int(os.environ.get("BROADCASTER_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = 4
# A portal download may render its audio first (espeak + ffmpeg, tens of seconds at most).
timeout = 120
graceful_timeout = 30
keepalive = 5
# Recycling workers bounds the memory any slow leak can take.
max_requests = 5000
max_requests_jitter = 500
# Heartbeat files on tmpfs: a worker blocked on a slow disk is not killed as hung.
worker_tmp_dir = "/dev/shm"
# Only nginx on this machine may say which scheme and client a request came from.
forwarded_allow_ips = "127.0.0.1,::1"
# Logs to stderr: journald keeps them (journalctl -u broadcaster-web).
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# gunicorn's own lines in the format every other process uses (BROADCASTER_LOG_FORMAT).
logconfig_dict = gunicorn_logconfig_dict(log_format(dict(os.environ)))
# Each worker builds its own app (and database engine) after the fork.
preload_app = False


def on_starting(server):
    # /metrics sums every worker's files in PROMETHEUS_MULTIPROC_DIR (docs/MONITORING.md);
    # files left by a previous run would add its counts to this one's.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
