"""Request bodies bounded by MAX_BODY_SIZE: 413 before the service reads past the limit.

A pure ASGI middleware (no buffering): a declared Content-Length over the limit is answered at once, without
reading the body; a chunked (or understated) body is counted as it arrives, and the request is cut off with 413 as
soon as the count passes the limit. The app never sees more than the limit.
"""

import json
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.settings import Settings, get_settings

STATUS = 413


class BodyTooLarge(Exception):
    """Raised to the app when it reads past the limit (it never gets the rest of the body)."""


def too_large_messages(limit: int) -> tuple[Message, Message]:
    body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is not read: this connection cannot carry another request
    ]
    return (
        {"type": "http.response.start", "status": STATUS, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed Content-Length itself
    return None


class BodySizeLimit:
    """`limit` is read per request (a callable), so the settings are resolved at the first request, not at import."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        length = declared_length(scope)
        if length is not None and length > limit:
            for message in too_large_messages(limit):
                await send(message)
            return

        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own answer to the cut-off body (a 400 or 500) is replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            if not exceeded:
                raise
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            for message in too_large_messages(limit):
                await send(message)


def install_body_limit(app: FastAPI, settings: Settings | None) -> None:
    """MAX_BODY_SIZE from the given settings, else from the environment (read at the first request)."""
    app.add_middleware(BodySizeLimit, limit=lambda: (settings or get_settings()).max_body_size)
