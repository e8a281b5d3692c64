"""Property-based fuzzing of the whole API from its OpenAPI schema, against a real server and database."""

from collections.abc import AsyncIterator, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from {{ cookiecutter.package_name }}.main import create_app

from tests.live_server import Server, run_server
from tests.scratch_{{ cookiecutter.__driver_module }} import scratch_database

EXAMPLES_PER_OPERATION = 40

# The schema the running server serves, taken from the app itself so tests are known at collection time
schema = schemathesis.openapi.from_dict(create_app().openapi())


@pytest.fixture(scope="module")
async def fuzz_database_url(server_url: str, migrated_template: str) -> AsyncIterator[str]:
    async with scratch_database(server_url, template=migrated_template) as url:
        yield url


@pytest.fixture(scope="module")
def fuzz_server(fuzz_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for every fuzzed operation; at the end its log must show no unhandled exception."""
    log_path = tmp_path_factory.mktemp("fuzz") / "server.log"
    with run_server({"DATABASE_URL": fuzz_database_url}, str(log_path)) as server:
        yield server
    log = server.output()
    assert "Exception in ASGI application" not in log, log


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_with_a_server_error(case: schemathesis.Case, fuzz_server: Server) -> None:
    case.call_and_validate(base_url=fuzz_server.base_url, checks=[not_a_server_error], timeout=10)
