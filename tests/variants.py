"""The one list of variants the template promises to work for.

pytest parametrizes over VARIANTS; the template's CI workflow builds its matrix from `python -m tests.variants`.
Adding a variant is one line: a pool in POOLS or a database choice in CONNECTIONS.
"""

import json
import os
import sys

# every database choice the template offers
CONNECTIONS: dict[str, dict[str, object]] = {
    "sqlite": {"database": "sqlite"},
    "postgresql": {"database": "postgresql"},
    "pgbouncer": {"database": "postgresql-pgbouncer"},
    "mysql": {"database": "mysql"},
}

# representative pool answers
POOLS: dict[str, dict[str, object]] = {
    "default-pool": {},
    "small-pool": {"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    "custom-pool": {"pool_size": 7, "max_overflow": 3, "pool_recycle": -1, "pool_pre_ping": "no"},
}

# awkward but valid names, carried by the custom-pool variants: names and pool answers are independent, so one
# render per database checks both (a non-ASCII name; a slug with hyphens and a digit that differs from the name)
NAMES: dict[str, dict[str, object]] = {
    "sqlite": {"project_name": "Café Ümlaut Orders"},
    "postgresql": {"project_name": "Billing API", "project_slug": "billing-api-v2"},
    "pgbouncer": {"project_name": "Billing API", "project_slug": "billing-api-v2"},
    "mysql": {"project_name": "Café Ümlaut Orders"},
}
NAMED_POOL = "custom-pool"

ALL: dict[str, dict[str, object]] = {
    f"{connection}-{pool}": {
        **CONNECTIONS[connection],
        **POOLS[pool],
        **(NAMES[connection] if pool == NAMED_POOL else {}),
    }
    for connection in CONNECTIONS
    for pool in POOLS
}

# Both ends of the dependency ranges, one variant per driver for each (PgBouncer's variants use asyncpg too): these run
# their own suite with every direct dependency at its lower bound (tests/test_dependency_bounds.py); every other
# variant runs it at the newest allowed releases (tests/test_variants.py), the default-pool ones checked to be exactly
# that end (tests/test_dependency_bounds.py again)
DRIVER_CONNECTIONS = ("postgresql", "sqlite", "mysql")
LOWEST_END = [f"{connection}-custom-pool" for connection in DRIVER_CONNECTIONS]
HIGHEST_END = [f"{connection}-default-pool" for connection in DRIVER_CONNECTIONS]

# TEMPLATE_VARIANTS=id,id narrows a run (the CI matrix runs one variant per job)
SELECTED = [name for name in os.environ.get("TEMPLATE_VARIANTS", "").split(",") if name]
unknown = set(SELECTED) - set(ALL)
if unknown:
    raise SystemExit(f"TEMPLATE_VARIANTS names unknown variants: {sorted(unknown)}; known: {sorted(ALL)}")
VARIANTS: dict[str, dict[str, object]] = {name: ALL[name] for name in SELECTED} if SELECTED else ALL


def uses_postgresql(answers: dict[str, object]) -> bool:
    return str(answers.get("database", "")).startswith("postgresql")


def uses_mysql(answers: dict[str, object]) -> bool:
    return answers.get("database") == "mysql"


def uses_database_server(answers: dict[str, object]) -> bool:
    """PostgreSQL or MySQL: a server the project creates its database on (SQLite makes its file itself)."""
    return uses_postgresql(answers) or uses_mysql(answers)


def backend_module(answers: dict[str, object]) -> str:
    """The rendered project's database module: postgres, mysql or sqlite (src/<package>/<module>.py)."""
    if uses_postgresql(answers):
        return "postgres"
    return "mysql" if uses_mysql(answers) else "sqlite"


def uses_pgbouncer(answers: dict[str, object]) -> bool:
    return answers.get("database") == "postgresql-pgbouncer"


if __name__ == "__main__":
    json.dump(sorted(ALL), sys.stdout)
    print()
