"""Cross-origin requests from browsers: CORS_ALLOWED_ORIGINS lists the origins allowed (empty: no CORS headers at all,
so browsers keep pages of other origins from reading the answers)."""

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:  # settings.py imports this module for check_origins
    from {{ cookiecutter.package_name }}.settings import Settings

METHODS = ["GET", "POST", "PATCH", "DELETE"]
HEADERS = ["Content-Type"]
PREFLIGHT_CACHE_SECONDS = 600
# An origin as browsers send it in the Origin header: scheme, host, optional port; no path, no trailing slash
ORIGIN = re.compile(r"https?://[^/\s:]+(:\d{1,5})?")


def split_origins(value: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in value.split(",") if origin.strip())


def check_origins(value: str) -> str:
    """CORS_ALLOWED_ORIGINS as given, when every entry is an origin or *; else why not."""
    for origin in split_origins(value):
        if origin != "*" and not ORIGIN.fullmatch(origin):
            raise ValueError(f"{origin!r} is not an origin: scheme://host[:port] without a path, or *")
    return value


class ConfiguredCORS:
    """Starlette's CORSMiddleware with the origins of the settings, built at the first request (the settings are
    read then, not at import); without origins, requests pass through untouched."""

    def __init__(self, app: ASGIApp, origins: Callable[[], tuple[str, ...]]) -> None:
        self.app = app
        self.origins = origins
        self.inner: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.inner is None:
            allowed = self.origins()
            self.inner = (
                CORSMiddleware(
                    self.app,
                    allow_origins=list(allowed),
                    allow_methods=METHODS,
                    allow_headers=HEADERS,
                    max_age=PREFLIGHT_CACHE_SECONDS,
                )
                if allowed
                else self.app
            )
        await self.inner(scope, receive, send)


def install_cors(app: FastAPI, settings: "Settings | None") -> None:
    from {{ cookiecutter.package_name }}.settings import get_settings

    app.add_middleware(ConfiguredCORS, origins=lambda: (settings or get_settings()).allowed_origins)
