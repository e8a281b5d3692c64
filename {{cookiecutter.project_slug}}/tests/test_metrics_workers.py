"""PROMETHEUS_MULTIPROC_DIR: with several workers one /metrics scrape reports the whole process group."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import ConfigurationError

from tests.live_server import Server, request, run_server
from tests.metrics_text import samples

REQUESTS = 200
CLIENTS = 16
WORKERS = 2
# room for the load whatever the variant's pool (its small one would make the test about waiting, not counting)
POOL = {"POOL_SIZE": "2", "MAX_OVERFLOW": "2", "POOL_TIMEOUT": "30"}
POOL_GAUGES = ("db_pool_size", "db_pool_checked_out", "db_pool_checked_in", "db_pool_overflow")


async def send_load(url: str) -> list[int]:
    """REQUESTS GETs from CLIENTS concurrent clients, each on a new connection so the load reaches every worker."""
    statuses: list[int] = []
    remaining = iter(range(REQUESTS))

    async def client(http: httpx.AsyncClient) -> None:
        for _ in remaining:
            statuses.append((await http.get(url)).status_code)

    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return statuses


def wait_for_workers(server: Server, timeout: float = 30) -> None:
    """Until every worker has run its start-up (and so published its pool gauges)."""
    deadline = time.monotonic() + timeout
    while server.output().count("Application startup complete") < WORKERS:
        assert time.monotonic() < deadline, f"the workers did not all start:\n{server.output()}"
        time.sleep(0.05)


async def test_one_scrape_adds_up_every_worker(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {
        "DATABASE_URL": database_url,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "WEB_CONCURRENCY": str(WORKERS),
        **POOL,
    }
    with run_server(env, str(tmp_path / "server.log"), extra_args=("--workers", str(WORKERS))) as server:
        wait_for_workers(server)
        statuses = await send_load(f"{server.base_url}/items")
        scrape = request(f"{server.base_url}/metrics")
    assert statuses == [200] * REQUESTS
    assert scrape.status == 200
    found = samples(scrape.body.decode())

    requests_counted = found[("http_request_duration_seconds_count", (("method", "GET"), ("route", "/items")))]
    assert requests_counted == REQUESTS
    for name in POOL_GAUGES:
        per_worker = {dict(labels)["pid"]: value for (sample, labels), value in found.items() if sample == name}
        assert len(per_worker) == WORKERS, f"{name}: {per_worker}; the server's output:\n{server.output()}"
        assert found[(f"{name}_all_workers", ())] == sum(per_worker.values())
    # every worker opened its own connections: the opened counter is summed over both
    assert found[("db_pool_connections_opened_total", ())] >= 1


def test_every_worker_publishes_its_pool_gauges_as_it_starts(database_url: str, tmp_path: Path) -> None:
    """Scraped as soon as both have started, before any load or periodic publishing: both workers are there."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {"DATABASE_URL": database_url, "PROMETHEUS_MULTIPROC_DIR": str(folder), "WEB_CONCURRENCY": str(WORKERS)}
    with run_server(env, str(tmp_path / "server.log"), extra_args=("--workers", str(WORKERS))) as server:
        wait_for_workers(server)
        found = samples(request(f"{server.base_url}/metrics").body.decode())

    pids = {dict(labels)["pid"] for (sample, labels), _ in found.items() if sample == "db_pool_size"}
    assert len(pids) == WORKERS, f"{pids}; the server's output:\n{server.output()}"


async def test_a_worker_that_shuts_down_removes_its_pool_gauges(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {"DATABASE_URL": database_url, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    with run_server(env, str(tmp_path / "first.log")) as server:
        assert request(f"{server.base_url}/items").status == 200
    with run_server(env, str(tmp_path / "second.log")) as server:
        found = samples(request(f"{server.base_url}/metrics").body.decode())

    pids = {dict(labels)["pid"] for (sample, labels), _ in found.items() if sample == "db_pool_size"}
    assert len(pids) == 1  # the second server's only: the first one's went when it shut down
    assert found[("http_request_duration_seconds_count", (("method", "GET"), ("route", "/items")))] == 1


def test_a_missing_multiprocess_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR=.*not a folder; create it"):
        create_app()
