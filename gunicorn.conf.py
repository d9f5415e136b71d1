"""gunicorn's settings for Loyalpass: ``gunicorn -c gunicorn.conf.py wsgi:app``, from the
checkout, with the same ``LOYALPASS_*`` environment as the workers.

Any of these may be overridden on the command line (``--bind 0.0.0.0:8000``,
``--workers 8``) or in ``GUNICORN_CMD_ARGS``.

Shutdown: SIGTERM (or SIGINT) to the master stops the listening socket, and each worker
finishes the request in flight (up to ``graceful_timeout``) before it exits; then its
database connections, the pool's and the one it held for the counter's hot path
(``app.sql``), are closed (``worker_exit``), so PostgreSQL sees them end rather than drop.
SIGHUP reloads: new workers start, the old ones finish as above.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # ``app`` from the checkout

from gunicorn.glogging import Logger

from app.config import ConfigError, log_format_from_env
from app.logs import LOG_LEVELS, gunicorn_logconfig

# Behind a proxy on this host that terminates TLS (nginx, Caddy, a load balancer's
# agent); ``--bind 0.0.0.0:8000`` when the proxy is elsewhere on a private network.
bind = ["127.0.0.1:8000"]
# Sync workers, one request at a time each, as measured (bench/pos.py): CPU-bound requests
# of a few milliseconds, PostgreSQL on the same network. WEB_CONCURRENCY overrides.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = 30  # a worker silent for this long is killed and replaced
graceful_timeout = 30  # after SIGTERM, how long a request in flight may take to finish
keepalive = 5  # seconds an idle connection from the proxy is kept
# A worker is replaced after about this many requests (jittered, so that they do not all
# restart at once): whatever a long-lived process gathers is let go. Not much more often:
# a new worker costs about 1.5 s of CPU to load the app, and starts with cold caches (at
# 10,000, a worker serving the wallet's polls at 1,500 a second restarted every 7 s).
max_requests = 200_000
max_requests_jitter = 20_000
# The heartbeat file on tmpfs where there is one (a container's /tmp may be slow disk).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# forwarded_allow_ips: gunicorn believes X-Forwarded-Proto and the like only from these
# addresses (its default: 127.0.0.1 and ::1). Loyalpass needs nothing of them: its links
# come from LOYALPASS_BASE_URL and the client's address from LOYALPASS_TRUSTED_PROXIES.
# Set --forwarded-allow-ips to the proxy's own address if it is on another host; never
# "*" on a port that others can reach, or anyone may claim to have come over https.

# The log: the app writes one line per request itself (route pattern, status, duration,
# request id: ``app.web.request_log``), so gunicorn's access log, which would print the
# path with its serial numbers and card tokens, is off. gunicorn's own lines (workers
# starting, timing out, exiting) go to stderr in the app's format: JSON in production.
accesslog = None
errorlog = "-"


class WithoutAccessLines(Logger):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's logger, without its access lines: gunicorn writes one per request as
    soon as ``logconfig_dict`` is set, with the path and query, which hold serial
    numbers, device identifiers and the tokens of the customers' card links. Each
    request's own line is the app's (``app.web.request_log``: the route's pattern)."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = WithoutAccessLines
try:
    _log_format = log_format_from_env(os.environ)
except ConfigError as error:
    sys.exit(f"loyalpass: {error}")
_log_level = os.environ.get("LOYALPASS_LOG_LEVEL", "INFO").strip().upper() or "INFO"
loglevel = _log_level.lower() if _log_level in LOG_LEVELS else "info"
logconfig_dict = gunicorn_logconfig(_log_format, loglevel.upper())


def worker_exit(server: Any, worker: Any) -> None:
    """In the worker, after its last request: its inline loops stopped (if any) and its
    database connections closed, the held ones with the pool's (``Engine.dispose``)."""
    runtime = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("loyalpass")
    if runtime is None:  # the app never loaded (a failed start)
        return
    runtime.stop_workers()
    runtime.engine.dispose()
    server.log.info("worker %s: database connections closed", worker.pid)


def child_exit(server: Any, worker: Any) -> None:
    """In the arbiter, when a worker has ended: with ``PROMETHEUS_MULTIPROC_DIR`` set, its
    gauges' files are let go so ``/metrics`` no longer reports it as live (its counters
    keep counting in the sums)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
