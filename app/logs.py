"""The log's shape: one JSON object a line (``LOYALPASS_LOG_FORMAT=json``, production's
default: web processes, workers and gunicorn's own lines alike) or plain text (``plain``,
``loyalpass serve``'s default), each with the id of the request it was written in.

A JSON line holds ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``message`` and ``request_id`` (null outside a request); a request's own line
(``app.web.request_log``) adds ``method``, ``route`` (the pattern, never the path),
``status`` and ``duration_ms``; an error adds ``exception`` (the traceback).

Invariant: nothing secret or personal is logged. Callers log ids, counts, route patterns
and outcomes, never tokens, authorization headers, barcodes, serial numbers, emails,
phones or names; text that others wrote and that may quote an address (a mail server's
reply) goes through ``redact`` first.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

LOG_FORMATS = ("json", "plain")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The request being answered in this context (set and reset by ``app.web.request_log``).
REQUEST_ID: ContextVar[str | None] = ContextVar("loyalpass_request_id", default=None)
# What a request's own line carries besides the message (``extra=`` of its log call).
REQUEST_FIELDS = ("method", "route", "status", "duration_ms")

_EMAIL = re.compile(r"[^\s<>()\[\]@,;:\"']+@[^\s<>()\[\]@,;:\"']+")
_OBJECT_ID = re.compile(r"\b\d{10,}\.[A-Za-z0-9_.%-]+")


def redact(text: str) -> str:
    """``text`` with anything shaped like an email address or a Google Wallet object id
    (the issuer's number, a dot, the card's serial number) blanked: for what a remote
    server said, which may quote the recipient (``550 <ann@example.com>: no such user``)
    or the object, and for Google's request paths."""
    return _OBJECT_ID.sub("[object]", _EMAIL.sub("[address]", text))


class JsonFormatter(logging.Formatter):
    """One JSON object a line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record), "level": record.levelname, "logger": record.name,
            "message": record.getMessage(), "request_id": _request_id(record)}
        for name in REQUEST_FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()  # a few times json's speed


class PlainFormatter(logging.Formatter):
    """``2026-12-05 10:00:00,123 INFO loyalpass.request [5f0c…] GET /healthz 200 0.4 ms``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(request)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = _request_id(record)
        record.request = f"[{request_id}] " if request_id else ""
        return super().format(record)


class LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler Loyalpass puts on the root logger (stderr): one at a time, however
    often the logging is configured (gunicorn's master, then each worker's ``wsgi``)."""


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else PlainFormatter()


def configure_logging(log_format: str, level: str = "INFO") -> None:
    """Every log line of this process to stderr, in ``log_format``, from ``level`` up."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, LogHandler):
            root.removeHandler(handler)
    handler = LogHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)


def gunicorn_logconfig(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its own lines (``gunicorn.error``) through the same
    handler and format as the app's; none of its access lines, which would show paths
    (``gunicorn.conf.py``'s logger does not write them either)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"loyalpass": {"()": f"{__name__}.{type(formatter(log_format)).__name__}"}},
        "handlers": {"stderr": {"class": f"{__name__}.LogHandler", "formatter": "loyalpass",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {"gunicorn.error": {"level": level, "handlers": [], "propagate": True},
                    "gunicorn.access": {"level": "CRITICAL", "handlers": [],
                                        "propagate": False}},
    }


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _request_id(record: logging.LogRecord) -> str | None:
    explicit = record.__dict__.get("request_id")
    return explicit if isinstance(explicit, str) else REQUEST_ID.get()
