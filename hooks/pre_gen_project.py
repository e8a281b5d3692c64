"""Pre-generation: check every answer before a file is written; one message per problem, then exit 1.

The same checks already ran while cookiecutter rendered its private variables (hooks/answers_check.py), before any
folder was made; this hook repeats them for answers replayed from a file, which skip that step.

Runs with the interpreter that runs cookiecutter, which may have nothing else installed: standard library only.
Valid Python before rendering too, so the template's tests import it and call the checks directly.
"""

from __future__ import annotations

import json
import keyword
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

# tojson escapes quotes as \u0027 and \", so no answer can end this raw string early
ANSWERS_JSON = r"""{{ cookiecutter | tojson }}"""

# fallbacks for when the template's cookiecutter.json cannot be read; the real lists live there
DEFAULT_CHOICES: dict[str, tuple[str, ...]] = {"database": ("sqlite", "postgresql", "postgresql-pgbouncer", "mysql")}
# answers files from before the one database question carry database=postgresql with connection_mode=pgbouncer
LEGACY_CONNECTION_MODES = ("direct", "pgbouncer")

MAX_PACKAGE_NAME = 40  # longer names push the rendered import lines past ruff's 120 columns
MAX_PROJECT_NAME = 60
MAX_PROJECT_SLUG = 60
MAX_DESCRIPTION = 200
MAX_AUTHOR = 100

# PostgreSQL's defaults: max_connections 100, of which superuser_reserved_connections 3 are not for applications
PG_MAX_CONNECTIONS = 100
PG_RESERVED_CONNECTIONS = 3
MAX_POOL_CONNECTIONS = PG_MAX_CONNECTIONS - PG_RESERVED_CONNECTIONS
# MySQL's and MariaDB's default max_connections (their one extra connection for administrators comes on top)
MYSQL_MAX_CONNECTIONS = 151
MAX_POOL_TIMEOUT = 300  # seconds; a request waiting longer than this for a connection is a hang, not a wait
MAX_POOL_RECYCLE = 86_400  # seconds; recycling less than daily protects against nothing (-1 turns it off)

TRUE_SPELLINGS = ("true", "yes", "y", "1", "on")
FALSE_SPELLINGS = ("false", "no", "n", "0", "off")

# Importable names the rendered project depends on (runtime and dev), plus names its own layout takes:
# a package with one of these names would shadow the real module and break imports.
DEPENDENCY_MODULES = frozenset(
    {
        "aiosqlite",
        "alembic",
        "annotated_types",
        "anyio",
        "asyncmy",
        "asyncpg",
        "click",
        "dotenv",
        "fastapi",
        "greenlet",
        "h11",
        "hatchling",
        "httpcore",
        "httptools",
        "httpx",
        "idna",
        "mako",
        "markupsafe",
        "migrations",
        "prometheus_client",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "pytest",
        "pytest_asyncio",
        "ruff",
        "scripts",
        "sniffio",
        "sqlalchemy",
        "starlette",
        "test",
        "tests",
        "typing_extensions",
        "typing_inspection",
        "uvicorn",
        "uvloop",
        "watchfiles",
        "websockets",
        "yaml",
    }
)

PACKAGE_NAME = re.compile(r"[a-z][a-z0-9_]*")
PROJECT_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
UNSAFE_TEXT = frozenset("\"'\\{}`")


@dataclass(frozen=True)
class Problem:
    """One answer that cannot be used: which prompt, what was given, why, what would work."""

    field: str
    given: object
    reason: str
    allowed: str
    example: str
    origin: str = ""  # the answer a derived value came from, e.g. "project_slug='class'"

    def __str__(self) -> str:
        derived = f" (derived from {self.origin})" if self.origin else ""
        source = f" (or another {self.origin.partition('=')[0]})" if self.origin else ""
        return (
            f"{self.field}={self.given!r}{derived} is not usable: {self.reason}\n"
            f"    allowed: {self.allowed}\n"
            f"    example: {self.example}{source}"
        )


def stdlib_modules() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", None)  # Python 3.10+
    if names is not None:
        return frozenset(names)
    return frozenset(sys.builtin_module_names) | {"asyncio", "collections", "json", "logging", "os", "test", "typing"}


def check_name(
    field: str, value: object, pattern: re.Pattern[str], limit: int, allowed: str, example: str, malformed: str
) -> tuple[Problem | None, Callable[[str], Problem]]:
    """The checks every name shares (its pattern, its length), and a maker of this field's other problems."""
    why_short = "; longer names push the generated imports past 120 columns" if field == "package_name" else ""

    def problem(reason: str) -> Problem:
        return Problem(field, value, reason, allowed, f"{field}={example}")

    if not isinstance(value, str) or not pattern.fullmatch(value):
        return problem(malformed), problem
    if len(value) > limit:
        return problem(f"it has {len(value)} characters{why_short}"), problem
    return None, problem


def check_package_name(value: object) -> Problem | None:
    allowed = (
        f"a lowercase Python identifier (a-z, 0-9, _; starting with a letter), at most {MAX_PACKAGE_NAME} "
        "characters, not a keyword and not the name of a standard-library or dependency module"
    )
    malformed = "it must be a lowercase Python identifier so that `import <package_name>` works"
    found, problem = check_name(
        "package_name", value, PACKAGE_NAME, MAX_PACKAGE_NAME, allowed, "order_service", malformed
    )
    if found is not None:
        return found
    if keyword.iskeyword(str(value)):
        return problem(f"{value!r} is a Python keyword, so `import {value}` is a syntax error")
    if value in stdlib_modules():
        return problem(f"it would shadow the standard-library module {value!r} and break imports that need it")
    if value in DEPENDENCY_MODULES:
        return problem(f"it would shadow the module {value!r} the project depends on (or its own layout uses)")
    return None


def check_project_slug(value: object) -> Problem | None:
    allowed = (
        f"lowercase letters and digits, optionally joined by single '-' or '_', at most {MAX_PROJECT_SLUG} "
        "characters (it names the folder, the distribution and the compose project)"
    )
    malformed = "it is not a valid folder and distribution name"
    return check_name("project_slug", value, PROJECT_SLUG, MAX_PROJECT_SLUG, allowed, "order-service", malformed)[0]


def unsafe_characters(text: str) -> list[str]:
    """Characters that would break a quoted string or docstring in the rendered files, shown readably."""
    found = []
    for char in text:
        category = unicodedata.category(char)
        if char in UNSAFE_TEXT or category.startswith("C") or category in ("Zl", "Zp"):
            shown = repr(char) if char.isprintable() else f"U+{ord(char):04X} ({unicodedata.name(char, category)})"
            if shown not in found:
                found.append(shown)
    return found


def check_text(field: str, value: object, limit: int, example: str) -> Problem | None:
    """Free text that ends up inside Python strings, docstrings, TOML and Markdown."""
    allowed = (
        f"1 to {limit} characters on one line, no leading or trailing spaces, without quotes, backslashes, "
        "backticks, braces or control characters"
    )

    def problem(reason: str) -> Problem:
        return Problem(field, value, reason, allowed, f"{field}={example}")

    if not isinstance(value, str):
        return problem("it must be text")
    if not value.strip():
        return problem("it is empty")
    bad = unsafe_characters(value)
    if bad:
        return problem(f"it contains {', '.join(bad)}, which would break the generated source files")
    if value != value.strip():
        return problem("it has leading or trailing spaces, which ruff format would rewrite")
    if len(value) > limit:
        return problem(f"it has {len(value)} characters")
    return None


def check_choice(field: str, value: object, choices: tuple[str, ...]) -> Problem | None:
    if value in choices:
        return None
    options = " or ".join(repr(choice) for choice in choices)
    return Problem(field, value, "it is not one of the offered choices", options, f"{field}={choices[0]}")


def check_connection_mode(value: object, database: object) -> Problem | None:
    """An old answers file's connection_mode (its derived values, rendered then, are replayed with it)."""
    problem = check_choice("connection_mode", value, LEGACY_CONNECTION_MODES)
    if problem is None and value == "pgbouncer" and database != "postgresql":
        problem = Problem(
            "connection_mode",
            value,
            f"PgBouncer sits in front of PostgreSQL, but database={database!r}",
            "'direct' for SQLite; 'pgbouncer' only together with database=postgresql",
            "connection_mode=direct",
        )
    return problem


def parsed(value: object, kinds: tuple[type, ...], pattern: re.Pattern[str]) -> float | None:
    """A number given as one of kinds (never a bool), or as text the pattern matches; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, kinds):
        return value  # type: ignore[return-value]
    if isinstance(value, str) and pattern.fullmatch(value):
        return float(value)
    return None


def as_integer(value: object) -> int | None:
    number = parsed(value, (int,), INTEGER)
    return None if number is None else int(number)


def as_number(value: object) -> float | None:
    """An int or a plain decimal ("2.5"), as it can be written into Python source unchanged."""
    number = parsed(value, (int, float), DECIMAL)
    return float(number) if number is not None and math.isfinite(number) else None


def as_boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    spelled = str(value).strip().lower()
    if spelled in TRUE_SPELLINGS:
        return True
    if spelled in FALSE_SPELLINGS:
        return False
    return None


def check_integer(field: str, value: object, low: int, high: int, meaning: str, example: int) -> Problem | None:
    number = as_integer(value)
    allowed = f"a whole number from {low} to {high} ({meaning})"
    if number is None:
        return Problem(field, value, "it is not a whole number", allowed, f"{field}={example}")
    if not low <= number <= high:
        return Problem(field, value, f"{number} is outside {low}..{high}", allowed, f"{field}={example}")
    return None


def check_pool_timeout(value: object) -> Problem | None:
    number = as_number(value)
    allowed = f"seconds, a number greater than 0 and at most {MAX_POOL_TIMEOUT}, e.g. 30 or 2.5"
    if number is None:
        return Problem("pool_timeout", value, "it is not a plain number", allowed, "pool_timeout=30")
    if not 0 < number <= MAX_POOL_TIMEOUT:
        reason = (
            "a request must wait more than 0 s for a connection"
            if number <= 0
            else f"{value} s is a hang, not a wait: the caller should get a 503 much sooner"
        )
        return Problem("pool_timeout", value, reason, allowed, "pool_timeout=30")
    return None


def check_pool_pre_ping(value: object) -> Problem | None:
    if as_boolean(value) is not None:
        return None
    spellings = "/".join(TRUE_SPELLINGS) + " or " + "/".join(FALSE_SPELLINGS)
    return Problem("pool_pre_ping", value, "it is not a yes/no answer", spellings, "pool_pre_ping=true")


def max_pool_connections(database: object) -> int:
    """The connections a default server of this database offers one application process."""
    return MYSQL_MAX_CONNECTIONS if database == "mysql" else MAX_POOL_CONNECTIONS


def check_pool_total(pool_size: object, max_overflow: object, database: object) -> Problem | None:
    """Every process may open pool_size + max_overflow connections; refuse more than a default server offers."""
    size, overflow = as_integer(pool_size), as_integer(max_overflow)
    if size is None or overflow is None:
        return None  # reported by the per-field checks
    total = size + overflow
    limit = max_pool_connections(database)
    if database == "mysql":
        server = f"MySQL's and MariaDB's default max_connections {MYSQL_MAX_CONNECTIONS}"
        scale_out = "lower them, or raise max_connections on the server"
    else:
        server = (
            f"PostgreSQL's default max_connections {PG_MAX_CONNECTIONS} - superuser_reserved_connections "
            f"{PG_RESERVED_CONNECTIONS} = {MAX_POOL_CONNECTIONS}"
        )
        scale_out = "for more, put PgBouncer in front (database=postgresql-pgbouncer)"
    if total <= limit:
        return None
    arithmetic = f"pool_size {size} + max_overflow {overflow} = {total} connections per process, but {server}"
    if database == "sqlite":
        arithmetic += "; with SQLite each connection is a thread and only one writes at a time, so they add nothing"
    return Problem(
        "pool_size/max_overflow",
        f"{size}/{overflow}",
        arithmetic,
        f"pool_size + max_overflow at most {limit} (and fewer with several workers: each has its own pool); "
        + scale_out,
        "pool_size=5 max_overflow=10",
    )


def load_choices(cookiecutter_json: Path) -> dict[str, tuple[str, ...]]:
    """The choice lists declared in the template's cookiecutter.json (the one place variants are listed)."""
    try:
        declared = json.loads(cookiecutter_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return dict(DEFAULT_CHOICES)
    choices = {key: tuple(value) for key, value in declared.items() if isinstance(value, list)}
    return {**DEFAULT_CHOICES, **choices}


def validate(answers: Mapping[str, object], choices: Mapping[str, tuple[str, ...]]) -> list[Problem]:
    """Every problem in the answers, in prompt order; an empty list means they are usable."""
    database = answers.get("database")
    limit = max_pool_connections(database)
    checks: list[Problem | None] = [
        check_text("project_name", answers.get("project_name"), MAX_PROJECT_NAME, "Order Service"),
        check_project_slug(answers.get("project_slug")),
        check_package_name(answers.get("package_name")),
        check_text("description", answers.get("description"), MAX_DESCRIPTION, "Orders and their items."),
        check_text("author", answers.get("author"), MAX_AUTHOR, "Jane Doe"),
        check_choice("database", database, choices["database"]),
        check_connection_mode(answers["connection_mode"], database) if "connection_mode" in answers else None,
        check_integer("pool_size", answers.get("pool_size"), 1, limit, "connections kept open per process", 5),
        check_integer("max_overflow", answers.get("max_overflow"), 0, limit - 1, "extra connections in bursts", 10),
        check_pool_timeout(answers.get("pool_timeout")),
        check_integer(
            "pool_recycle",
            answers.get("pool_recycle"),
            -1,
            MAX_POOL_RECYCLE,
            "seconds before a connection is replaced; -1 never",
            1800,
        ),
        check_pool_pre_ping(answers.get("pool_pre_ping")),
    ]
    problems = [problem for problem in checks if problem is not None]
    slug = answers.get("project_slug")
    if isinstance(slug, str) and answers.get("package_name") == slug.replace("-", "_"):  # cookiecutter.json's rule
        problems = [
            replace(problem, origin=f"project_slug={slug!r}") if problem.field == "package_name" else problem
            for problem in problems
        ]
    if not any(problem.field in ("pool_size", "max_overflow") for problem in problems):
        problems += filter(None, [check_pool_total(answers.get("pool_size"), answers.get("max_overflow"), database)])
    return problems


def report(problems: list[Problem]) -> str:
    count = f"{len(problems)} answer{'s' if len(problems) > 1 else ''}"
    lines = [f"cannot generate the project: {count} cannot be used (nothing was written)."]
    lines += [f"  - {problem}" for problem in problems]
    lines.append("Give corrected answers again, e.g. cookiecutter <template> --no-input database=sqlite pool_size=5")
    return "\n".join(lines)


def main() -> int:
    answers = json.loads(ANSWERS_JSON)
    choices = load_choices(Path(answers.get("_repo_dir", ".")) / "cookiecutter.json")
    problems = validate(answers, choices)
    if problems:
        print(report(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
