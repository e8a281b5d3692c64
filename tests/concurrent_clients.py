"""Run inside a rendered project's venv: many concurrent clients on /items and /notes of a real server.

    .venv/bin/python concurrent_clients.py PACKAGE CLIENTS ROUNDS

Starts the service (the project's tests.live_server.run_server) on a throwaway, migrated database on DATABASE_URL's server and
prints one JSON line: {"statuses": {"200": n, ...}, "errors": [...]}. Each client creates a note, reads it,
lists notes and reads /items, ROUNDS times.
"""

import asyncio
import importlib
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx
from alembic import command
from alembic.config import Config


async def main(package: str, clients: int, rounds: int) -> None:
    sys.path.insert(0, str(Path.cwd()))  # the project's own tests/ package, not this template's
    backend_name = next(
        name for name in ("postgres", "mysql", "sqlite") if importlib.util.find_spec(f"{package}.{name}")
    )
    scratch = importlib.import_module(f"tests.scratch_{backend_name}")
    server = importlib.import_module("tests.live_server")
    settings = importlib.import_module(f"{package}.settings").Settings(_env_file=None)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    async with scratch.scratch_database(settings.database_url) as url:
        config = Config("alembic.ini")
        config.attributes["database_url"] = url
        config.attributes["configure_logging"] = False
        await asyncio.to_thread(command.upgrade, config, "head")
        with (
            tempfile.TemporaryDirectory() as logs,
            server.run_server({"DATABASE_URL": url}, f"{logs}/server.log") as app,
        ):

            async def client(number: int, http: httpx.AsyncClient) -> None:
                for round_ in range(rounds):
                    try:
                        created = await http.post("/notes", json={"title": f"client {number} round {round_}"})
                        statuses[created.status_code] += 1
                        if created.status_code == 201:
                            statuses[(await http.get(f"/notes/{created.json()['id']}")).status_code] += 1
                        statuses[(await http.get("/notes", params={"limit": 5})).status_code] += 1
                        statuses[(await http.get("/items")).status_code] += 1
                    except httpx.HTTPError as error:
                        errors.append(f"{type(error).__name__}: {error}")

            # keep-alive connections expire on the client's side before uvicorn's 5 s keep-alive timeout closes them:
            # with both at 5 s (httpx's default), a request sent on a connection the server is closing at that
            # instant fails with "Server disconnected without sending a response"
            limits = httpx.Limits(max_connections=clients, keepalive_expiry=2.0)
            async with httpx.AsyncClient(base_url=app.base_url, limits=limits, timeout=60) as http:
                await asyncio.gather(*(client(number, http) for number in range(clients)))
            if Path(f"{logs}/server.log").read_text().count("Traceback"):
                errors.append("tracebacks in the server log")
    print(json.dumps({"statuses": {str(code): count for code, count in statuses.items()}, "errors": errors}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
