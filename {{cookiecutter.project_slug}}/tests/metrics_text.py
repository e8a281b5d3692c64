"""Reading the service's /metrics page in tests: every sample, or the pool's checkout waits and connection counts."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

WAIT = "db_pool_checkout_wait_seconds"
SETTLE_SECONDS = 5


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@dataclass(frozen=True)
class PoolReading:
    """The checkout-wait histogram and the opened/closed counters from one scrape."""

    waits: int
    waited_seconds: float
    buckets: dict[float, float]  # upper bound -> checkouts that waited at most that long (cumulative)
    opened: float
    closed: float

    @classmethod
    def parse(cls, text: str) -> "PoolReading":
        found = samples(text)
        buckets = {
            float(dict(labels)["le"]): value for (name, labels), value in found.items() if name == f"{WAIT}_bucket"
        }
        return cls(
            waits=int(found[(f"{WAIT}_count", ())]),
            waited_seconds=found[(f"{WAIT}_sum", ())],
            buckets=buckets,
            opened=found[("db_pool_connections_opened_total", ())],
            closed=found[("db_pool_connections_closed_total", ())],
        )


async def scrape(client: AsyncClient) -> PoolReading:
    response = await client.get("/metrics")  # a scrape checks no connection out
    assert response.status_code == 200
    return PoolReading.parse(response.text)


async def settled(client: AsyncClient, done: Callable[[PoolReading], bool]) -> PoolReading:
    """The next reading for which done(reading) holds, for pools that close connections off the request path."""
    reading = await scrape(client)
    for _ in range(int(SETTLE_SECONDS / 0.05)):
        if done(reading):
            break
        await asyncio.sleep(0.05)
        reading = await scrape(client)
    return reading
