"""PostgreSQL specifics: asyncpg connection arguments, PgBouncer safety and the sizing guard."""

import logging
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import asyncpg  # type: ignore[import-untyped]  # ships no type hints
from sqlalchemy import event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only  # await_ from 2.1 on; await_only is in 2.0 and 2.1

from {{ cookiecutter.package_name }}.backend import AUTOCOMMIT_CHECKOUT, sizing_problem
from {{ cookiecutter.package_name }}.pgbouncer_console import ConsoleError, show_config
from {{ cookiecutter.package_name }}.settings import Settings

logger = logging.getLogger(__name__)

# for create_database.py: where to connect while the database is missing, how to ask whether it exists
MAINTENANCE_DATABASE = "postgres"
DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = :name"
CREATE_DATABASE_OPTIONS = ""


def connect_args(settings: Settings) -> dict[str, Any]:
    args: dict[str, Any] = {"server_settings": {"application_name": settings.application_name}}
    if settings.pgbouncer:
        # Transaction pooling hands each transaction to any server connection, so a prepared
        # statement made in one transaction may be missing (or clash) in the next one.
        args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4().hex}__",
        }
    return args


def prepare_engine(engine: AsyncEngine, settings: Settings) -> None:
    """Connecting reports asyncpg's errors as the DBAPI's (asyncpg takes everything else in connect_args);
    pre-ping gets a cheaper ping."""
    event.listen(engine.sync_engine, "do_connect", connect_reporting_dbapi_errors)
    if settings.pool_pre_ping:
        dialect = engine.dialect
        dialect.do_ping = ping_by_beginning  # type: ignore[method-assign]
        # Read-only and deferrable take effect at BEGIN: when one is set, end the ping's (still empty) transaction
        # so that the next statement begins with it, as the driver already does for isolation levels
        dialect.set_readonly = restarting(dialect.set_readonly)  # type: ignore[attr-defined]
        dialect.set_deferrable = restarting(dialect.set_deferrable)  # type: ignore[attr-defined]


def connect_reporting_dbapi_errors(dialect: Dialect, connection_record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect as the dialect does, with asyncpg's own errors (wrong password, no such database) raised as the
    DBAPI's Error, which SQLAlchemy wraps in a DBAPIError like any other failed connection.

    SQLAlchemy 2.1 does this itself; 2.0 lets them out unwrapped, and they would become 500s instead of 503s.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise dialect.loaded_dbapi.Error(f"{type(error)}: {error}") from error


def ping_by_beginning(dbapi_connection: Any) -> bool:
    """Pre-ping in one round trip by opening the transaction the checkout is for; False makes the pool replace
    the connection (and test the others).

    SQLAlchemy's asyncpg ping sends BEGIN, an empty query and ROLLBACK, and the first query then sends BEGIN
    again: four round trips before any work. Sending that BEGIN now proves the connection alive just as well; the
    first query finds its transaction open, and the session's ROLLBACK or COMMIT (or the pool's reset) ends it.
    A checkout for the read path (autocommit) opens none and makes no round trip: asyncpg knows a connection the
    server closed (a restart, a terminated backend), and the read path runs a statement whose connection is lost under
    it once more on a new one (db.Reader). The empty query there cost 12% of the read path's CPU (docs/postgres.md).
    """
    driver_connection = dbapi_connection.driver_connection
    if AUTOCOMMIT_CHECKOUT.get():
        return not driver_connection.is_closed()
    start_transaction = getattr(dbapi_connection, "_start_transaction", None)
    try:
        if start_transaction is None or dbapi_connection.autocommit:
            await_only(driver_connection.fetchrow(";"))
        else:
            await_only(start_transaction())
    except Exception:  # BEGIN or an empty query only fail on a broken connection (closed, terminated, server gone)
        return False
    return True


def restarting(setter: Callable[[Any, bool], None]) -> Callable[[Any, bool], None]:
    def set_then_restart(dbapi_connection: Any, value: bool) -> None:
        dbapi_connection.rollback()
        setter(dbapi_connection, value)

    return set_then_restart


def read_isolation_level(settings: Settings) -> str | None:
    """Autocommit, except behind PgBouncer: in transaction pooling mode a statement outside a transaction may be
    prepared on one server connection and executed on another, so there the read path keeps its transaction."""
    return None if settings.pgbouncer else "AUTOCOMMIT"


async def check_pool_sizing(engine: AsyncEngine, settings: Settings, workers: int) -> str | None:
    """A warning when every replica's workers' full pools would not fit in the server's connection slots (behind
    PgBouncer: in PgBouncer's client connections)."""
    if settings.pgbouncer:
        return await check_pgbouncer_sizing(engine, settings, workers)
    # a connection of its own, outside the pool and under its own name, so that the pool's numbers and the
    # connections counted by application_name stay the application's
    args = connect_args(settings)
    args["server_settings"] = {**args["server_settings"], "application_name": f"{settings.application_name}:sizing"}
    probe = create_async_engine(engine.url, poolclass=NullPool, connect_args=args)
    try:
        async with probe.connect() as connection:
            max_connections = int((await connection.execute(text("SHOW max_connections"))).scalar_one())
            reserved = int((await connection.execute(text("SHOW superuser_reserved_connections"))).scalar_one())
    finally:
        await probe.dispose()
    available = max_connections - reserved
    offer = (
        f"the server offers max_connections {max_connections} - superuser_reserved_connections {reserved} = {available}"
    )
    message = sizing_problem(settings, workers, available, offer, "put PgBouncer in front")
    if message:
        logger.warning(message)
    return message


async def check_pgbouncer_sizing(engine: AsyncEngine, settings: Settings, workers: int) -> str | None:
    """Behind PgBouncer the pools are PgBouncer's clients: a warning when they would not fit in its max_client_conn,
    read from its admin console as DATABASE_URL's user. PgBouncer's own pool (default_pool_size) is what the
    server sees; the service cannot size that."""
    url = engine.url
    try:
        config = await show_config(url.host or "localhost", url.port or 5432, url.username or "", url.password)
        max_client_conn = int(config["max_client_conn"])
    except (ConsoleError, KeyError, ValueError) as error:
        logger.info(
            "pool sizing not checked behind PgBouncer: its admin console (database pgbouncer) did not answer user "
            "%r (%s); add that user to PgBouncer's stats_users to have it checked",
            url.username,
            error,
        )
        return None
    offer = f"PgBouncer accepts max_client_conn {max_client_conn} (default_pool_size {config.get('default_pool_size', '?')})"
    message = sizing_problem(settings, workers, max_client_conn, offer, "raise PgBouncer's max_client_conn")
    if message:
        logger.warning(message)
    return message
