"""Smoke test: run the service as a real server on a throwaway database and check that it works as configured.

    python -m tests.smoke              # as configured (environment, .env); prints a summary
    python -m tests.smoke --rendered   # the defaults rendered into the project, whatever the environment says
    python -m tests.smoke --json       # the report as one JSON line (the template's post-generation hook reads it)

Exit codes: 0 all checks passed; 1 a check failed (the project is broken); 2 the environment is
missing something outside the project (for example the database server is unreachable).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack

from pydantic import AliasChoices, ValidationError
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }} import settings as configuration
from {{ cookiecutter.package_name }}.db import build_engine
from {{ cookiecutter.package_name }}.errors import is_connection_failure
from {{ cookiecutter.package_name }}.redaction import mask_passwords, mask_url
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings, get_settings

from tests.live_server import Server, ServerError, request, run_server, wait_until_live
from tests.migrate import upgrade
from tests.scratch_{{ cookiecutter.__driver_module }} import scratch_database

EXIT_BROKEN = 1
EXIT_ENVIRONMENT = 2
SERVER_STARTUP_TIMEOUT = 30
SMOKE_DATABASE_URL = "SMOKE_DATABASE_URL"


class Unreachable(Exception):
    """The database server cannot be reached: the environment's problem, not the project's."""


class CheckFailed(AssertionError):
    """A smoke check saw something other than what it expected."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def check_items(server: Server, settings: Settings) -> str:
    reply = request(f"{server.base_url}/items")
    expect(reply.status == 200 and reply.json() == {"number": 1}, f"GET /items gave {reply.status} {reply.body!r}")
    return 'GET /items -> {"number": 1}'


def check_ready(server: Server, settings: Settings) -> str:
    reply = request(f"{server.base_url}/health/ready")
    expect(reply.status == 200, f"GET /health/ready gave {reply.status} {reply.body!r}")
    return "GET /health/ready -> 200"


def check_wiring(server: Server, settings: Settings) -> str:
    database = request(f"{server.base_url}/health/ready").json()["database"]  # type: ignore[index]
    pool = database["pool"]
    wanted = {
        "driver": (database["driver"], make_url(settings.database_url).get_driver_name()),
        "pool size": (pool["size"], settings.pool_size),
        "max overflow": (pool["max_overflow"], settings.max_overflow),
        "pool timeout": (pool["timeout"], settings.pool_timeout),
        "pool recycle": (pool["recycle"], settings.pool_recycle),
        "pool pre-ping": (pool["pre_ping"], settings.pool_pre_ping),
        "pool class": (pool["pool_class"], settings.pool_class),
    }
    wrong = {name: pair for name, pair in wanted.items() if pair[0] != pair[1]}
    problems = ", ".join(f"{name} is {actual!r}, expected {wanted!r}" for name, (actual, wanted) in wrong.items())
    expect(not wrong, f"engine not wired as configured: {problems}")
    return f"engine wired as configured (driver {database['driver']}, POOL_CLASS={pool['pool_class']}: {pool['class']})"


def check_notes_round_trip(server: Server, settings: Settings) -> str:
    created = request(f"{server.base_url}/notes", "POST", {"title": "smoke", "body": "round trip"})
    expect(created.status == 201, f"POST /notes gave {created.status} {created.body!r}")
    note_url = f"{server.base_url}/notes/{created.json()['id']}"  # type: ignore[index]
    fetched = request(note_url)
    title = fetched.json()["title"] if fetched.status == 200 else None  # type: ignore[index]
    expect(title == "smoke", f"GET {note_url} gave {fetched.status} {fetched.body!r}")
    deleted = request(note_url, "DELETE")
    expect(deleted.status == 204, f"DELETE {note_url} gave {deleted.status} {deleted.body!r}")
    gone = request(note_url)
    expect(gone.status == 404, f"GET {note_url} after delete gave {gone.status}")
    return "notes: create, read, delete after migrations"


CHECKS: list[Callable[[Server, Settings], str]] = [check_items, check_ready, check_wiring, check_notes_round_trip]


async def probe(settings: Settings, url: str) -> None:
    """Connect once the way the service will, so an unreachable server is reported as such."""
    engine = build_engine(settings.model_copy(update={"database_url": url}))
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (DBAPIError, OSError) as error:
        if is_connection_failure(error):
            raise Unreachable(f"{mask_url(url)}: {type(error).__name__}: {mask_passwords(str(error), url)}") from None
        raise
    finally:
        await engine.dispose()


async def run_checks(settings: Settings) -> list[str]:
    async with AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(scratch_database(settings.database_url))
        except Exception as error:  # refused, unknown host, bad admin credentials: all outside the project
            reason = f"{type(error).__name__}: {mask_passwords(str(error), settings.database_url)}"
            raise Unreachable(
                f"cannot create a throwaway database for {settings.masked_database_url}: {reason}"
            ) from None
        await probe(settings, url)
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="smoke-"))
        # started before migrating: the server's imports overlap the migration, and it opens no connection until asked
        server = stack.enter_context(run_server({"DATABASE_URL": url}, f"{folder}/server.log", wait=False))
        await asyncio.to_thread(upgrade, url)
        await asyncio.to_thread(wait_until_live, server, SERVER_STARTUP_TIMEOUT)
        try:
            return [check(server, settings) for check in CHECKS]
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}\n--- server output ---\n{server.output()}") from None


def settings_variables() -> set[str]:
    """Every environment variable the service's Settings read: each field's name and its aliases, upper-cased."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
        names |= {choice.upper() for choice in choices if isinstance(choice, str)}
    return names


def rendered_settings() -> Settings:
    """The settings rendered into the project: every variable Settings reads leaves this process's environment (and
    so the server's) and .env is not read. SMOKE_DATABASE_URL, when set, names the database server to use."""
    ignored = settings_variables()
    for name in [name for name in os.environ if name.upper() in ignored]:
        del os.environ[name]
    database_url = os.environ.get(SMOKE_DATABASE_URL)
    try:
        return Settings(_env_file=None, **({"database_url": database_url} if database_url else {}))
    except ValidationError as error:
        raise ConfigurationError(configuration.describe_errors(error)) from None


def report(settings: Settings, passed: list[str], seconds: float) -> dict[str, object]:
    """What ran and how it was configured; `summary` holds the lines shown to people."""
    pool = {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "pool_pre_ping": settings.pool_pre_ping,
    }
    summary = [
        f"smoke test passed in {seconds:.1f} s",
        f"  database: {settings.masked_database_url}",
        f"  pool:     pool_size={settings.pool_size} max_overflow={settings.max_overflow} "
        f"pool_timeout={settings.pool_timeout:g}s pool_recycle={settings.pool_recycle}s "
        f"pool_pre_ping={settings.pool_pre_ping}",
        f"  class:    POOL_CLASS={settings.pool_class}",
        *[f"  ok  {line}" for line in passed],
    ]
    return {
        "database": settings.masked_database_url,
        "pool": pool,
        "pool_class": settings.pool_class,
        "checks": passed,
        "seconds": round(seconds, 3),
        "summary": summary,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the service on a throwaway database and check it.")
    parser.add_argument("--rendered", action="store_true", help="ignore the settings in the environment and .env")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        settings = rendered_settings() if args.rendered else get_settings()
        passed = asyncio.run(run_checks(settings))
    except ConfigurationError as error:
        print(f"smoke test FAILED: {error}", file=sys.stderr)
        return EXIT_BROKEN
    except (CheckFailed, ServerError) as failure:
        print(f"smoke test FAILED: {failure}", file=sys.stderr)
        print("reproduce with: python -m tests.smoke", file=sys.stderr)
        return EXIT_BROKEN
    except Unreachable as error:
        print(f"smoke test NOT RUN: the database server is unreachable: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    result = report(settings, passed, time.monotonic() - started)
    print(json.dumps(result) if args.json else "\n".join(result["summary"]))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
