"""Logs: LOG_FORMAT=text (the default, as uvicorn prints them) or json (one object per line), and a request id.

Every HTTP request gets an id, taken from its X-Request-ID header when it carries a usable one, generated otherwise,
and returned in the response's X-Request-ID header. With LOG_FORMAT=json each request also logs one line with its
method, route, status, duration and client address, in place of uvicorn's access line, and every line logged while a
request runs carries its id. Passwords are masked before any formatter sees a record (redaction.py), so both formats
print them as ***.
"""

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["text", "json"]

REQUEST_ID_HEADER = b"x-request-id"
# an incoming id is kept only when it is short and plain: it is echoed in a header and written to every log line
USABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
UNMATCHED = "<unmatched>"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
request_logger = logging.getLogger(f"{__package__}.requests")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id, and a request's own fields.

    It formats a line per request, so it keeps its work small: one encoder for every line, and the time's part up
    to the second worked out once a second.
    """

    FIELDS = ("route", "method", "status", "duration", "client")

    def __init__(self) -> None:
        super().__init__()
        self.encoder = json.JSONEncoder(default=str)
        self.second: tuple[int, str] = (-1, "")

    def timestamp(self, record: logging.LogRecord) -> str:
        """2026-12-01T05:30:12.345+00:00: UTC, to the millisecond."""
        whole = int(record.created)
        second = self.second  # one tuple, read and replaced whole: safe when threads log at once
        if second[0] != whole:
            second = self.second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        return f"{second[1]}.{int(record.msecs):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = getattr(record, "request_id", None) or request_id.get()
        if current is not None:
            entry["request_id"] = current
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text  # already masked when the record was made
        if record.stack_info:
            entry["stack"] = record.stack_info
        return self.encoder.encode(entry)


def configure_logging(log_format: LogFormat) -> None:
    """json: the root logger and uvicorn's loggers write JSON lines at INFO; text leaves logging as it is."""
    if log_format != "json":
        return
    formatter = JsonFormatter()
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, "writes_json_logs", False)]
    if not ours:  # once per process, however many apps start
        stream = logging.StreamHandler(sys.stderr)
        stream.writes_json_logs = True  # type: ignore[attr-defined]
        root.addHandler(stream)
        ours = [stream]
    for handler in ours:
        handler.setFormatter(formatter)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    for handler in logging.getLogger("uvicorn").handlers:
        handler.setFormatter(formatter)
    # each request's own line (RequestIdMiddleware) replaces uvicorn's access line, which would repeat it; as with
    # `uvicorn --no-access-log`, connections opened from now on do not even prepare it
    access = logging.getLogger("uvicorn.access")
    access.handlers, access.propagate = [], False
    request_logger.setLevel(logging.INFO)


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            given = str(value.decode("latin-1"))
            if USABLE_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI: gives each HTTP request its id, returns it in X-Request-ID, and logs the request when enabled."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = incoming_request_id(scope)
        token = request_id.set(current)
        header = (REQUEST_ID_HEADER, current.encode("latin-1"))
        status = 500  # what the client gets when the app raises before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if request_logger.isEnabledFor(logging.INFO):
                route = getattr(scope.get("route"), "path", UNMATCHED)
                duration = round(time.perf_counter() - started, 6)
                client = scope.get("client")
                request_logger.info(
                    "%s %s %d",
                    scope["method"],
                    route,
                    status,
                    extra={
                        "route": route,
                        "method": scope["method"],
                        "status": status,
                        "duration": duration,
                        "client": client[0] if client else None,
                    },
                )
            request_id.reset(token)
