"""Configuration read from the environment (and a `.env` file); defaults are the answers given at render time."""

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from {{ cookiecutter.package_name }}.cors import check_origins, split_origins
from {{ cookiecutter.package_name }}.logs import LogFormat
from {{ cookiecutter.package_name }}.redaction import mask_url

APP_NAME = "{{ cookiecutter.project_name }}"
DRIVER = "{{ cookiecutter.__url_scheme }}"
DEFAULT_DATABASE_URL = "{{ cookiecutter.__database_url }}"

# fair: this project's pool (pool.py); stock: SQLAlchemy's AsyncAdaptedQueuePool, the off switch for pool.py
PoolClass = Literal["fair", "stock"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    app_name: str = APP_NAME
    # repr=False: the URL may hold a password; __repr_args__ shows a masked copy instead
    database_url: str = Field(DEFAULT_DATABASE_URL, repr=False)
    pool_size: PositiveInt = {{ cookiecutter.pool_size }}
    max_overflow: NonNegativeInt = {{ cookiecutter.max_overflow }}
    pool_timeout: PositiveFloat = {{ cookiecutter.pool_timeout }}
    pool_recycle: Annotated[int, Field(ge=-1)] = {{ cookiecutter.pool_recycle }}
    pool_pre_ping: bool = {{ cookiecutter.__pool_pre_ping }}
    pool_class: PoolClass = "fair"
    # Seconds an idle overflow connection (beyond POOL_SIZE) is kept for the next request; 0 closes it at once
    overflow_idle_timeout: Annotated[float, Field(ge=0, le=86400)] = 30
    # Processes each holding a pool (WORKERS, or WEB_CONCURRENCY which `uvicorn --workers` also reads by default)
    workers: PositiveInt = Field(1, validation_alias=AliasChoices("workers", "web_concurrency"))
    # Copies of the service (containers, pods) on the same database: the sizing check counts REPLICAS x WORKERS pools
    replicas: PositiveInt = 1
    # Bytes a request body may have (default 1 MiB); a larger one gets 413 before it is read (body_limit.py)
    max_body_size: PositiveInt = 1_048_576
    # Origins browsers may call this API from, comma-separated (https://shop.example,http://localhost:3000) or *;
    # empty: no CORS headers (cors.py)
    cors_allowed_origins: Annotated[str, AfterValidator(check_origins)] = ""
    # text: logs as uvicorn prints them; json: one JSON object per line, with a request id (logs.py)
    log_format: LogFormat = "text"
    # OpenTelemetry traces of requests and queries (tracing.py); needs the otel extra: pip install ".[otel]"
    tracing: bool = False
{%- if cookiecutter.__driver_module == "sqlite" %}
    sqlite_busy_timeout_ms: PositiveInt = 5000
{%- else %}
    # the name this service's connections carry on the database server, so operators (and tests) can find them
    application_name: Annotated[str, Field(min_length=1, max_length=63)] = "{{ cookiecutter.package_name }}"
{%- endif %}
{%- if cookiecutter.__driver_module == "postgres" %}
    # PgBouncer in transaction pooling mode cannot keep prepared statements across transactions
    pgbouncer: bool = {{ cookiecutter.__pgbouncer }}
{%- endif %}

    @field_validator("database_url")
    @classmethod
    def _check_driver(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL: {mask_url(value)!r}") from None
        if url.drivername != DRIVER:
            raise ValueError(f"must use the {DRIVER} driver, e.g. {DRIVER}://..., got {url.drivername!r}")
        return value

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        return split_origins(self.cors_allowed_origins)

    @field_validator("pool_class", "log_format", mode="before")
    @classmethod
    def _choice_name(cls, value: object) -> object:
        # "Stock " or "JSON" from a hand-edited .env mean stock and json; anything else is refused with the choices
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def masked_database_url(self) -> str:
        return mask_url(self.database_url)

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        yield "database_url", self.masked_database_url
        yield from super().__repr_args__()


class ConfigurationError(RuntimeError):
    """Raised at start-up when an environment variable holds an invalid value."""


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    """One line per invalid variable, named as it is set in the environment; secrets masked."""
    lines = ["invalid configuration:"]
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper()
        given = error.get("input")
        shown = mask_url(given) if name == "DATABASE_URL" and isinstance(given, str) else given
        lines.append(f"  {name}={shown!r}: {error['msg']}")
    return "\n".join(lines)
