"""The database password never reaches a log: not in messages, not in tracebacks, whichever logger writes them."""

import io
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from {{ cookiecutter.package_name }} import redaction
from {{ cookiecutter.package_name }}.redaction import install_log_masking, mask_secrets
from {{ cookiecutter.package_name }}.settings import DRIVER

PASSWORD = "p@ss/w0rd:Zq8"  # characters that a URL must percent-encode
URL = f"{DRIVER}://app:{quote(PASSWORD, safe='')}@db.example:5432/app"
LOGGERS = ["uvicorn.error", "sqlalchemy.engine", "sqlalchemy.pool", "{{ cookiecutter.package_name }}.errors"]


@pytest.fixture
def masked_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What these loggers write, formatted as uvicorn would; the masking is undone afterwards."""
    monkeypatch.setattr(redaction, "_secrets", set())
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    for name in LOGGERS:
        logging.getLogger(name).addHandler(handler)
    install_log_masking(URL)
    try:
        yield stream
    finally:
        logging.setLogRecordFactory(factory)
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(handler)


def test_password_is_masked_in_messages_and_tracebacks_of_every_logger(masked_log: io.StringIO) -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.error("connecting to %s", URL)
        logger.warning(f"password is {PASSWORD}")
        try:
            raise ConnectionError(f"cannot reach {URL}")
        except ConnectionError:
            logger.exception("Exception in ASGI application")
    output = masked_log.getvalue()

    assert PASSWORD not in output
    assert quote(PASSWORD, safe="") not in output
    assert output.count("ConnectionError: cannot reach") == len(LOGGERS)
    assert output.count("app:***@db.example") == 2 * len(LOGGERS)


def test_mask_secrets_leaves_text_without_the_password_alone(masked_log: io.StringIO) -> None:
    assert mask_secrets("pool size 5, user app") == "pool size 5, user app"
    assert mask_secrets(f"auth {PASSWORD} failed") == "auth *** failed"
