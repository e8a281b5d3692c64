"""Keep database passwords out of logs, errors and responses."""

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"
_secrets: set[str] = set()


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***; an unparsable URL is hidden whole."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return MASK


def mask_secrets(text: str) -> str:
    """The text with every registered secret replaced by ***."""
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return text


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the message, the traceback and the stack of a log record, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler, which reports it
        return record
    masked = mask_secrets(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text, so the traceback (whose messages may quote a URL) is printed masked
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_secrets(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_secrets(record.stack_info)
    return record


def _wrap_factory(inner: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        return mask_record(record) if _secrets else record

    masking_factory.masks_secrets = True  # type: ignore[attr-defined]
    return masking_factory


def install_log_masking(database_url: str) -> None:
    """Mask the database password in every log record of the process, whichever logger or handler it goes to."""
    url = make_url(database_url)
    password = url.password
    # A password equal to the user name hides nothing (the user name is printed everywhere), and masking it
    # would mangle every mention of the user, e.g. "postgres" inside "postgresql"
    if not password or password == url.username:
        return
    # The password as given and as it appears percent-encoded inside a URL
    _secrets.update({str(password), quote(str(password), safe=""), quote_plus(str(password))})
    # A record factory sees every record at creation, including those of loggers without handlers
    # (printed by logging's last-resort handler) and tracebacks logged with exc_info
    current = logging.getLogRecordFactory()
    if not getattr(current, "masks_secrets", False):
        logging.setLogRecordFactory(_wrap_factory(current))
