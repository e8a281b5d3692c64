"""The hooks: answers checked before anything is written, the unchosen variant pruned, the new project smoke-tested."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment

from tests.hookhelpers import (
    CLOSED_PORT_ADMIN_URL,
    HOOKS,
    TEMPLATE,
    bake,
    copy_template,
    load_hook,
    load_module,
    mentions,
)

pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")

DECLARED = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
CHOICES = pre_gen.load_choices(TEMPLATE / "cookiecutter.json")
DEFAULTS = {
    "project_name": "Order Service",
    "project_slug": "order-service",
    "package_name": "order_service",
    "description": DECLARED["description"],
    "author": DECLARED["author"],
    "database": "sqlite",
    "pool_size": 5,
    "max_overflow": 10,
    "pool_timeout": 30,
    "pool_recycle": 1800,
    "pool_pre_ping": True,
}
SKIP = {"TEMPLATE_SKIP_SMOKE": "1"}

# (answers given on the command line, the prompt the message must name)
BAD_INPUTS = [
    ({"package_name": "class"}, "package_name"),
    ({"package_name": "asyncio"}, "package_name"),
    ({"package_name": "test"}, "package_name"),
    ({"package_name": "fastapi"}, "package_name"),
    ({"package_name": "sqlalchemy"}, "package_name"),
    ({"package_name": "9lives"}, "package_name"),
    ({"package_name": "Order_Service"}, "package_name"),
    ({"package_name": "a" * 41}, "package_name"),
    ({"project_slug": "My Service!"}, "project_slug"),
    ({"project_slug": "a/b"}, "project_slug"),
    ({"project_slug": "order-service", "package_name": "order-service"}, "package_name"),
    ({"project_name": "N" * 61}, "project_name"),
    ({"project_name": 'Bob "the" Service'}, "project_name"),
    ({"project_name": "Back\\slash"}, "project_name"),
    ({"description": "Braces {here}"}, "description"),
    ({"description": "tab\there"}, "description"),
    ({"author": "O'Brien"}, "author"),
    ({"database": "oracle"}, "database"),
    ({"database": "pgbouncer"}, "database"),
    ({"pool_size": "0"}, "pool_size"),
    ({"pool_size": "five"}, "pool_size"),
    ({"pool_size": "007"}, "pool_size"),
    ({"max_overflow": "-1"}, "max_overflow"),
    ({"database": "postgresql", "pool_size": "90", "max_overflow": "20"}, "pool_size"),
    ({"pool_timeout": "0"}, "pool_timeout"),
    ({"pool_timeout": "1e3"}, "pool_timeout"),
    ({"pool_timeout": "3600"}, "pool_timeout"),
    ({"pool_recycle": "-2"}, "pool_recycle"),
    ({"pool_recycle": "1.5"}, "pool_recycle"),
    ({"pool_pre_ping": "maybe"}, "pool_pre_ping"),
]


def case_id(answers: dict[str, object]) -> str:
    return " ".join(f"{key}={value!r}"[:40] for key, value in answers.items())


@pytest.mark.parametrize(("answers", "field"), BAD_INPUTS, ids=[case_id(answers) for answers, _ in BAD_INPUTS])
def test_cli_bad_answer_fails_naming_the_field_and_leaves_nothing(
    tmp_path: Path, answers: dict[str, object], field: str
) -> None:
    baked = bake(tmp_path, answers, SKIP)

    assert baked.exit_code != 0, baked.output
    assert field in baked.output
    assert baked.leftovers == [], baked.output  # at once: refused before cookiecutter made any folder


def test_cli_reports_every_bad_answer_at_once(tmp_path: Path) -> None:
    answers = {"package_name": "import", "pool_size": "0", "pool_timeout": "-3", "author": "a\\b"}

    baked = bake(tmp_path, answers, SKIP)

    assert baked.exit_code != 0
    assert "4 answers cannot be used" in baked.output
    for field in answers:
        assert f"{field}=" in baked.output
    assert baked.leftovers == []


def test_cli_good_answers_render_and_skip_the_smoke_test_when_asked(tmp_path: Path) -> None:
    baked = bake(tmp_path, {"project_name": "Ünïcode Orders", "pool_timeout": "2.5", "pool_pre_ping": "off"}, SKIP)

    assert baked.exit_code == 0, baked.output
    assert "smoke test skipped (TEMPLATE_SKIP_SMOKE=1)" in baked.output
    assert (baked.project("unicode-orders") / "pyproject.toml").is_file()
    assert not (baked.project("unicode-orders") / ".venv").exists()


def test_pre_gen_accepts_the_declared_defaults() -> None:
    assert pre_gen.validate(DEFAULTS, pre_gen.load_choices(TEMPLATE / "cookiecutter.json")) == []


def test_pre_gen_fallback_choices_match_cookiecutter_json() -> None:
    for key, fallback in pre_gen.DEFAULT_CHOICES.items():
        assert tuple(DECLARED[key]) == fallback


@pytest.mark.parametrize("name", ["class", "match_", "json", "asyncio", "this", "pydantic", "starlette", "tests"])
def test_pre_gen_package_name_refuses_keywords_and_shadowing(name: str) -> None:
    problem = pre_gen.check_package_name(name)

    if name == "match_":
        assert problem is None
    else:
        assert problem is not None
        assert problem.field == "package_name"
        assert "example: package_name=order_service" in str(problem)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [(True, True), ("yes", True), ("Y", True), ("1", True), ("on", True), ("false", False), ("n", False),
     ("0", False), ("OFF", False), ("maybe", None), ("", None)],
)  # fmt: skip
def test_pre_gen_boolean_spellings(spelling: object, expected: bool | None) -> None:
    assert pre_gen.as_boolean(spelling) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5), ("5", 5), ("-1", -1), ("007", None), ("+5", None), (" 5", None), (True, None)]
)
def test_pre_gen_integers_must_be_written_as_python_writes_them(value: object, expected: int | None) -> None:
    assert pre_gen.as_integer(value) == expected


def test_pre_gen_pool_total_shows_the_arithmetic() -> None:
    problem = pre_gen.check_pool_total("90", "20", "postgresql")

    assert problem is not None
    assert "pool_size 90 + max_overflow 20 = 110" in problem.reason
    assert "max_connections 100 - superuser_reserved_connections 3 = 97" in problem.reason
    assert pre_gen.check_pool_total("90", "7", "postgresql") is None


def test_pre_gen_pool_total_on_mysql_is_checked_against_its_default_151() -> None:
    problem = pre_gen.check_pool_total("140", "20", "mysql")

    assert problem is not None
    assert "pool_size 140 + max_overflow 20 = 160" in problem.reason
    assert "max_connections 151" in problem.reason
    assert pre_gen.check_pool_total("140", "11", "mysql") is None
    answers = {"database": "mysql", "pool_size": "140", "max_overflow": "11"}
    problems = pre_gen.validate(answers, pre_gen.DEFAULT_CHOICES)
    assert not [problem for problem in problems if problem.field.startswith(("pool_size", "max_overflow"))]


@pytest.mark.parametrize("text", ['say "hi"', "it's", "back\\slash", "a{b", "new\nline", "bell\x07", "zero\u200bwidth"])
def test_pre_gen_text_refuses_characters_that_break_generated_files(text: str) -> None:
    problem = pre_gen.check_text("description", text, 200, "A service.")

    assert problem is not None
    assert "description=" in str(problem)


def test_pre_gen_old_connection_mode_answer_is_checked_and_pgbouncer_needs_postgresql() -> None:
    assert pre_gen.check_connection_mode("pgbouncer", "postgresql") is None
    assert pre_gen.check_connection_mode("pgbouncer", "sqlite") is not None
    assert pre_gen.check_connection_mode("sidecar", "postgresql") is not None
    old = {**DEFAULTS, "database": "postgresql", "connection_mode": "sidecar"}
    assert [problem.field for problem in pre_gen.validate(old, CHOICES)] == ["connection_mode"]


def test_one_database_question_never_asks_sqlite_users_about_postgresql() -> None:
    assert DECLARED["database"] == ["sqlite", "postgresql", "postgresql-pgbouncer", "mysql"]
    assert "connection_mode" not in DECLARED


def test_pre_gen_a_refused_derived_value_names_the_answer_it_came_from() -> None:
    derived = pre_gen.validate({**DEFAULTS, "project_slug": "class", "package_name": "class"}, CHOICES)
    given = pre_gen.validate({**DEFAULTS, "project_slug": "my-class", "package_name": "class"}, CHOICES)

    assert str(derived[0]).startswith("package_name='class' (derived from project_slug='class') is not usable")
    assert "example: package_name=order_service (or another project_slug)" in str(derived[0])
    assert str(given[0]).startswith("package_name='class' is not usable")


def test_cli_derived_package_name_refusal_names_the_slug(tmp_path: Path) -> None:
    baked = bake(tmp_path, {"project_slug": "class"}, SKIP)

    assert baked.exit_code != 0
    assert "package_name='class' (derived from project_slug='class') is not usable" in baked.output


def test_replaying_an_answers_file_with_connection_mode_renders_the_pgbouncer_project(tmp_path: Path) -> None:
    """An answers file written before the one database question (database=postgresql, connection_mode=pgbouncer)."""
    replay = tmp_path / "answers" / "order-service-template.json"
    replay.parent.mkdir()
    shutil.copyfile(TEMPLATE / "tests" / "data" / "answers-with-connection-mode.json", replay)
    output = tmp_path / "out"
    output.mkdir()

    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--replay-file", str(replay), "-o", str(output), str(TEMPLATE)],
        env={**os.environ, "TEMPLATE_SKIP_SMOKE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    project = output / "order-service"

    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "src/order_service/postgres.py").is_file()
    assert not (project / "src/order_service/sqlite.py").exists()
    assert "pgbouncer: bool = True" in (project / "src/order_service/settings.py").read_text()
    assert "127.0.0.1:6432/order_service" in (project / ".env.example").read_text()
    assert "pool_size: PositiveInt = 7" in (project / "src/order_service/settings.py").read_text()


def test_pre_gen_answers_survive_rendering_into_the_hook(tmp_path: Path) -> None:
    """Whatever the answers hold, the rendered hook is valid Python and reads them back unchanged."""
    nasty = {**DEFAULTS, "project_name": "x'''\"\"\"\\", "description": "</script>'\\u0027"}
    source = (HOOKS / "pre_gen_project.py").read_text(encoding="utf-8")
    rendered = tmp_path / "pre_gen_project.py"
    rendered.write_text(StrictEnvironment(context={}).from_string(source).render(cookiecutter=nasty), encoding="utf-8")

    hook = load_module(rendered, "rendered_pre_gen_project")

    assert json.loads(hook.ANSWERS_JSON) == nasty


def test_cli_slug_with_a_slash_is_refused_before_any_folder_is_made(tmp_path: Path) -> None:
    baked = bake(tmp_path, {"project_slug": "deep/er/slug"}, SKIP)

    assert baked.exit_code != 0
    assert "project_slug='deep/er/slug' is not usable" in baked.output
    assert baked.leftovers == []  # nothing to tidy up later: no folder of the slug was ever made


def test_post_gen_only_for_names_existing_files_of_known_variants() -> None:
    project = TEMPLATE / "{{cookiecutter.project_slug}}"

    for path, owners in post_gen.ONLY_FOR.items():
        assert set(owners) <= set(DECLARED["database"]), path
        assert (project / path.format(package="{{cookiecutter.package_name}}")).is_file(), path


def test_post_gen_unused_files_are_the_other_variants() -> None:
    assert post_gen.unused_files("sqlite", "shop") == [
        "src/shop/postgres.py",
        "src/shop/pgbouncer_console.py",
        "src/shop/mysql.py",
        "src/shop/create_database.py",
        "docs/postgres.md",
        "docs/mysql.md",
        "tests/test_postgres_pool.py",
        "tests/test_postgres_faults.py",
        "tests/test_postgres_workers.py",
        "tests/test_postgres_ping.py",
        "tests/test_postgres_migrations.py",
        "tests/test_postgres_log_masking.py",
        "tests/postgres_admin.py",
        "tests/scratch_postgres.py",
        "tests/test_mysql.py",
        "tests/test_mysql_faults.py",
        "tests/mysql_admin.py",
        "tests/scratch_mysql.py",
        "tests/scratch_server.py",
        "tests/test_scratch_copies.py",
        "tests/replicas.py",
        "tests/sizing_checks.py",
        "tests/server_faults.py",
        "scripts/bench_postgres.py",
        "scripts/bench_mysql.py",
    ]
    assert post_gen.unused_files("postgresql", "shop") == [
        "src/shop/sqlite.py",
        "src/shop/sqlite_cursor.py",
        "src/shop/mysql.py",
        "docs/sqlite.md",
        "docs/mysql.md",
        "tests/test_mysql.py",
        "tests/test_mysql_faults.py",
        "tests/mysql_admin.py",
        "tests/scratch_mysql.py",
        "tests/scratch_sqlite.py",
        "tests/test_sqlite_trips.py",
        "scripts/bench_sqlite.py",
        "scripts/bench_mysql.py",
    ]
    shared = {
        "src/shop/create_database.py",
        "tests/scratch_server.py",
        "tests/test_scratch_copies.py",
        "tests/replicas.py",
        "tests/sizing_checks.py",
        "tests/server_faults.py",
    }
    assert not shared & set(post_gen.unused_files("mysql", "shop"))


def test_post_gen_smoke_environment_drops_settings_and_keeps_the_admin_url() -> None:
    env = {
        "DATABASE_URL": "x",
        "pool_size": "99",
        "POOL_CLASS": "stock",
        "PYTHONPATH": "/elsewhere",
        "ADMIN_DATABASE_URL": "y",
        "PATH": "/bin",
    }

    # the service's settings stay: the smoke test (--rendered) drops every variable its Settings read
    assert post_gen.smoke_environment(env) == {key: value for key, value in env.items() if key != "PYTHONPATH"}
    assert post_gen.smoke_environment({**env, "TEMPLATE_SMOKE_DATABASE_URL": "z"})["SMOKE_DATABASE_URL"] == "z"


def test_post_gen_masks_with_the_projects_redaction_module_using_the_standard_library_only() -> None:
    project = TEMPLATE / "{{cookiecutter.project_slug}}"
    code = (
        "import sys; sys.modules['sqlalchemy'] = None; "  # what the hook's interpreter may lack
        f"sys.path.insert(0, {str(HOOKS)!r}); from post_gen_project import load_redaction; "
        f"redaction = load_redaction(__import__('pathlib').Path({str(project)!r}), '{{{{cookiecutter.package_name}}}}'); "
        "print(redaction.mask_passwords(sys.argv[1])); print(redaction.mask_passwords(sys.argv[2]))"
    )
    url = "postgresql+asyncpg://app:s3cret@db:5432/orders"
    shown = subprocess.run(
        [sys.executable, "-c", code, f"failed on {url}", "sqlite+aiosqlite:///./x.db"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()

    assert shown == ["failed on postgresql+asyncpg://app:***@db:5432/orders", "sqlite+aiosqlite:///./x.db"]


@pytest.mark.parametrize(
    ("output", "network"),
    [
        ("hint: Packages were unavailable because the network was disabled", True),
        ("Failed to establish a new connection: [Errno 111] Connection refused", True),
        ("error: Failed to fetch: dns error: failed to lookup address information", True),
        ("Because fastapix was not found in the package registry, requirements are unsatisfiable", False),
    ],
)
def test_post_gen_install_failures_are_sorted_into_network_and_project(output: str, network: bool) -> None:
    assert bool(post_gen.NETWORK_TROUBLE.search(output)) is network


def test_post_gen_installer_falls_back_to_venv_and_pip(tmp_path: Path) -> None:
    installer, uv = post_gen.choose_installer({"TEMPLATE_INSTALLER": "pip"})
    steps = post_gen.install_commands(installer, uv, tmp_path / ".venv" / "bin" / "python")

    assert installer == "pip"
    assert steps[0][0][1:] == ["-m", "venv", ".venv"]
    assert steps[1][0][1:4] == ["-m", "pip", "install"]
    assert steps[1][0][-2:] == ["-e", ".[dev]"]


def test_post_gen_checks_the_smoke_ran_with_the_answers() -> None:
    pool = {
        "pool_size": "7",
        "max_overflow": "3",
        "pool_timeout": "2.5",
        "pool_recycle": "-1",
        "pool_pre_ping": "False",
    }
    used = {"pool_size": 7, "max_overflow": 3, "pool_timeout": 2.5, "pool_recycle": -1, "pool_pre_ping": False}
    good = {"database": "sqlite+aiosqlite:///./x.db", "pool": used}

    assert post_gen.check_answers_applied(good, pool, "sqlite+aiosqlite") is None
    wrong_pool = {**good, "pool": {**used, "pool_size": 5}}
    assert "answers were" in post_gen.check_answers_applied(wrong_pool, pool, "sqlite+aiosqlite")
    assert "answers chose" in post_gen.check_answers_applied(good, pool, "postgresql+asyncpg")
    assert post_gen.read_report('starting\n{"pool": {}}\n') == {"pool": {}}
    assert post_gen.read_report("smoke test passed\n") is None


def test_post_gen_warning_turns_into_failure_in_strict_mode() -> None:
    outcome = post_gen.Outcome("unverified", "the database server could not be reached", ["refused"])

    text, code = post_gen.describe(outcome, {".venv": 1.0}, strict=False)
    strict_text, strict_code = post_gen.describe(outcome, {".venv": 1.0}, strict=True)

    assert code == 0
    assert "NOT verified" in text
    assert "run the smoke test later" in text
    assert strict_code == 1
    assert "TEMPLATE_STRICT=1" in strict_text


POSTGRES_MARKERS = ("asyncpg", "postgresql+", "PGBOUNCER", "pgbouncer", "postgres.py", "pg_stat_activity")
SQLITE_MARKERS = ("aiosqlite", "sqlite+", "PRAGMA", "SQLITE_BUSY_TIMEOUT_MS", "sqlite.py")
MYSQL_MARKERS = ("asyncmy", "mysql+", "mysql.py", "processlist", "utf8mb4")


@pytest.mark.parametrize(
    ("database", "module", "pruned_as", "foreign_markers"),
    [
        ("sqlite", "sqlite.py", "sqlite", POSTGRES_MARKERS + MYSQL_MARKERS),
        ("postgresql-pgbouncer", "postgres.py", "postgresql", SQLITE_MARKERS + MYSQL_MARKERS),
        ("mysql", "mysql.py", "mysql", SQLITE_MARKERS + POSTGRES_MARKERS),
    ],
)
def test_pruning_leaves_nothing_specific_to_the_other_databases(
    tmp_path: Path, database: str, module: str, pruned_as: str, foreign_markers: tuple[str, ...]
) -> None:
    baked = bake(tmp_path, {"database": database}, SKIP)
    project = baked.project()

    assert baked.exit_code == 0, baked.output
    assert (project / "src/order_service" / module).is_file()
    assert mentions(project, foreign_markers) == []
    for path in post_gen.unused_files(pruned_as, "order_service"):
        assert not (project / path).exists()


@pytest.mark.slow
def test_smoke_sqlite_passes_with_the_answers_and_keeps_the_venv(tmp_path: Path) -> None:
    answers = {"database": "sqlite", "pool_size": "3", "max_overflow": "2", "pool_pre_ping": "no"}

    # settings exported by the shell that would break the smoke test or change its pool: it reads the answers
    exported = {
        "DATABASE_URL": "sqlite+aiosqlite:///./ignored.db",
        "POOL_SIZE": "99",
        "pool_class": "bogus",
        "WEB_CONCURRENCY": "many",
        "SQLITE_BUSY_TIMEOUT_MS": "0",
    }
    baked = bake(tmp_path, answers, {"TEMPLATE_STRICT": "1", **exported})
    project = baked.project()

    assert baked.exit_code == 0, baked.output
    assert "order-service: smoke test passed (sqlite; .venv " in baked.output
    assert "pool_size=3 max_overflow=2 pool_timeout=30s pool_recycle=1800s pool_pre_ping=False" in baked.output
    assert "driver aiosqlite" in baked.output
    assert "next steps:" in baked.output
    assert (project / ".venv" / "bin" / "python").is_file()
    assert not list(project.glob("*.db*"))  # the smoke used a throwaway file, not the project's database


@pytest.mark.slow
def test_smoke_postgresql_reachable_passes_and_can_drop_the_venv(tmp_path: Path) -> None:
    answers = {"database": "postgresql", "pool_size": "7", "max_overflow": "3", "pool_recycle": "-1"}

    baked = bake(tmp_path, answers, {"TEMPLATE_STRICT": "1", "TEMPLATE_KEEP_VENV": "0"})

    assert baked.exit_code == 0, baked.output
    assert "smoke test passed (postgresql; .venv " in baked.output
    assert "pool_size=7 max_overflow=3 pool_timeout=30s pool_recycle=-1s pool_pre_ping=True" in baked.output
    assert "driver asyncpg" in baked.output
    assert "postgres:***@" in baked.output
    assert "postgres:postgres@" not in baked.output
    assert not (baked.project() / ".venv").exists()
    assert "TEMPLATE_KEEP_VENV=0 removed it" in baked.output


@pytest.mark.slow
def test_smoke_pgbouncer_project_runs_against_the_server_named_for_the_smoke(tmp_path: Path) -> None:
    answers = {"database": "postgresql-pgbouncer"}
    env = {"TEMPLATE_STRICT": "1", "TEMPLATE_SMOKE_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/x"}

    baked = bake(tmp_path, answers, env)

    assert baked.exit_code == 0, baked.output
    assert "smoke test passed (postgresql; .venv " in baked.output


@pytest.mark.slow
def test_smoke_postgresql_unreachable_keeps_the_project_and_warns(tmp_path: Path) -> None:
    baked = bake(tmp_path, {"database": "postgresql"}, {"ADMIN_DATABASE_URL": CLOSED_PORT_ADMIN_URL})

    assert baked.exit_code == 0, baked.output
    assert "WARNING: order-service was generated but NOT verified" in baked.output
    assert "database server could not be reached" in baked.output
    assert "run the smoke test later: cd order-service && .venv/bin/python -m tests.smoke" in baked.output
    assert (baked.project() / "src/order_service/postgres.py").is_file()


@pytest.mark.slow
def test_smoke_postgresql_unreachable_fails_in_strict_mode(tmp_path: Path) -> None:
    env = {"ADMIN_DATABASE_URL": CLOSED_PORT_ADMIN_URL, "TEMPLATE_STRICT": "1"}

    baked = bake(tmp_path, {"database": "postgresql"}, env)

    assert baked.exit_code != 0
    assert "NOT verified" in baked.output
    assert "TEMPLATE_STRICT=1" in baked.output
    assert baked.leftovers == []  # cookiecutter removes a project whose post-gen hook failed


@pytest.mark.slow
def test_smoke_offline_install_keeps_the_project_and_warns(tmp_path: Path) -> None:
    env = {"UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "empty-cache")}

    baked = bake(tmp_path / "out", {"database": "sqlite"}, env)

    assert baked.exit_code == 0, baked.output
    assert "could not be installed (network or package index unavailable)" in baked.output
    assert 'install them later: uv venv .venv && uv pip install -e ".[dev]"' in baked.output
    assert (baked.project() / "pyproject.toml").is_file()


@pytest.mark.slow
def test_smoke_broken_project_fails_with_the_check_and_how_to_reproduce(tmp_path: Path) -> None:
    """A template whose /items answers wrongly renders, but the hook refuses the result."""
    broken = copy_template(tmp_path / "template")
    items = broken / "{{cookiecutter.project_slug}}/src/{{cookiecutter.package_name}}/api/items.py"
    items.write_text(items.read_text(encoding="utf-8").replace("SELECT 1", "SELECT 2"), encoding="utf-8")

    baked = bake(tmp_path / "out", {"database": "sqlite"}, template=broken)

    assert baked.exit_code != 0
    assert "FAILED: order-service is broken" in baked.output
    assert "GET /items gave 200" in baked.output
    assert "--keep-project-on-failure" in baked.output
    assert baked.leftovers == []


@pytest.mark.slow
def test_longest_allowed_names_render_ruff_clean(tmp_path: Path) -> None:
    """The length limits in pre-gen are what keeps the generated code within ruff's 120 columns."""
    package = "p" * pre_gen.MAX_PACKAGE_NAME
    answers = {"project_name": "N" * pre_gen.MAX_PROJECT_NAME, "project_slug": "long", "package_name": package}
    ruff = str(Path(sys.executable).parent / "ruff")

    for database in DECLARED["database"]:
        baked = bake(tmp_path / database, {**answers, "database": database}, SKIP)
        assert baked.exit_code == 0, baked.output
        project = baked.project("long")
        for command in (["check", "-q", "."], ["format", "--check", "."]):
            result = subprocess.run([ruff, *command], cwd=project, capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stdout
