import re
from pathlib import Path

import pytest
from sqlalchemy.pool import AsyncAdaptedQueuePool

from {{ cookiecutter.package_name }}.db import build_engine
from {{ cookiecutter.package_name }}.pool import FairWarmPool
from {{ cookiecutter.package_name }}.settings import DRIVER, ConfigurationError, Settings, get_settings

# The answers given when this project was rendered
RENDERED = {
    "driver": "{{ cookiecutter.__url_scheme.split('+')[1] }}",
    "pool_size": {{ cookiecutter.pool_size }},
    "max_overflow": {{ cookiecutter.max_overflow }},
    "pool_timeout": {{ cookiecutter.pool_timeout }},
    "pool_recycle": {{ cookiecutter.pool_recycle }},
    "pool_pre_ping": {{ cookiecutter.__pool_pre_ping }},
}
POOL_ANSWERS = ["pool_size", "max_overflow", "pool_timeout", "pool_recycle", "pool_pre_ping"]
POOL_VARIABLES = [
    "DATABASE_URL",
    "POOL_SIZE",
    "MAX_OVERFLOW",
    "POOL_TIMEOUT",
    "POOL_RECYCLE",
    "POOL_PRE_PING",
    "OVERFLOW_IDLE_TIMEOUT",
    "POOL_CLASS",
    "WORKERS",
    "WEB_CONCURRENCY",
    "REPLICAS",
    "MAX_BODY_SIZE",
    "CORS_ALLOWED_ORIGINS",
]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in POOL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


async def test_engine_is_wired_with_the_rendered_answers(clean_environment: pytest.MonkeyPatch) -> None:
    engine = build_engine(Settings(_env_file=None))
    try:
        pool = engine.pool
        assert engine.dialect.driver == RENDERED["driver"]
        assert pool.size() == RENDERED["pool_size"]
        assert pool._max_overflow == RENDERED["max_overflow"]
        assert pool.timeout() == RENDERED["pool_timeout"]
        assert pool._recycle == RENDERED["pool_recycle"]
        assert pool._pre_ping is RENDERED["pool_pre_ping"]
        assert pool.overflow_idle_timeout == 30
    finally:
        await engine.dispose()


async def test_pool_class_stock_wires_sqlalchemys_pool_with_the_same_limits(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("POOL_CLASS", " Stock ")  # as a hand-edited .env may have it
    clean_environment.setenv("OVERFLOW_IDLE_TIMEOUT", "5")  # set but not for this pool: ignored, not an error
    settings = get_settings()
    assert settings.pool_class == "stock"
    fair, stock = build_engine(settings.model_copy(update={"pool_class": "fair"})), build_engine(settings)
    try:
        assert isinstance(fair.pool, FairWarmPool)
        assert isinstance(stock.pool, AsyncAdaptedQueuePool)
        assert not isinstance(stock.pool, FairWarmPool)
        assert not hasattr(stock.pool, "overflow_idle_timeout")
        limits = [
            (pool.size(), pool._max_overflow, pool.timeout(), pool._recycle, pool._pre_ping)
            for pool in (fair.pool, stock.pool)
        ]
        assert limits[0] == limits[1] == tuple(RENDERED[name] for name in POOL_ANSWERS)
    finally:
        await fair.dispose()
        await stock.dispose()


def test_environment_overrides_the_pool(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("POOL_SIZE", "3")
    clean_environment.setenv("MAX_OVERFLOW", "0")
    clean_environment.setenv("POOL_PRE_PING", "false")
    clean_environment.setenv("OVERFLOW_IDLE_TIMEOUT", "0")
    settings = get_settings()
    assert (settings.pool_size, settings.max_overflow, settings.pool_pre_ping) == (3, 0, False)
    assert settings.overflow_idle_timeout == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("POOL_SIZE", "0", "greater than 0"),
        ("POOL_SIZE", "many", "valid integer"),
        ("MAX_OVERFLOW", "-1", "greater than or equal to 0"),
        ("POOL_TIMEOUT", "0", "greater than 0"),
        ("POOL_RECYCLE", "-2", "greater than or equal to -1"),
        ("POOL_PRE_PING", "perhaps", "valid boolean"),
        ("OVERFLOW_IDLE_TIMEOUT", "-1", "greater than or equal to 0"),
        ("OVERFLOW_IDLE_TIMEOUT", "soon", "valid number"),
        ("POOL_CLASS", "queue", "Input should be 'fair' or 'stock'"),
        ("POOL_CLASS", "", "Input should be 'fair' or 'stock'"),
        ("WORKERS", "0", "greater than 0"),
        ("REPLICAS", "0", "greater than 0"),
        ("REPLICAS", "two", "valid integer"),
        ("MAX_BODY_SIZE", "0", "greater than 0"),
        ("CORS_ALLOWED_ORIGINS", "https://shop.example/", "is not an origin"),
        ("DATABASE_URL", "oracle+oracledb://u:pw@h/db", "{{ cookiecutter.__url_scheme }} driver"),
        ("DATABASE_URL", "not a url", "not a database URL"),
    ],
)
def test_invalid_value_fails_naming_the_variable(
    clean_environment: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    clean_environment.setenv(variable, value)
    with pytest.raises(ConfigurationError) as error:
        get_settings()
    assert f"{variable}=" in str(error.value)
    assert message in str(error.value)


def test_password_is_masked_in_repr_and_errors(clean_environment: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, database_url=f"{DRIVER}://user:s3cret-pw@db.example/app")
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in str(settings)
    assert "***" in repr(settings)
    clean_environment.setenv("DATABASE_URL", "mysql://user:s3cret-pw@host/db")
    with pytest.raises(ConfigurationError) as error:
        get_settings()
    assert "s3cret-pw" not in str(error.value)


def test_every_setting_is_in_env_example_and_documented() -> None:
    project = Path(__file__).resolve().parents[1]
    example = (project / ".env.example").read_text()
    documented = "".join(path.read_text() for path in [project / "README.md", *(project / "docs").glob("*.md")])
    for name in Settings.model_fields:
        if name == "app_name":  # the title of the API docs, rendered from the answers
            continue
        variable = name.upper()
        assert re.search(rf"^(# )?{variable}=", example, re.MULTILINE), f"{variable} missing from .env.example"
        assert f"`{variable}`" in documented, f"{variable} documented nowhere"
