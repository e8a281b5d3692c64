"""Keep database passwords out of logs, errors and responses: the one place that masks them.

Only the standard library at import time: the template's post-generation hook loads this file, with an interpreter
that may not have the project's dependencies, to mask what it prints.
"""

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# the password part of any URL written in a text: scheme://user:PASSWORD@host
PASSWORD_IN_URL = re.compile(r"(?P<head>://[^/@:\s]*:)[^/@\s]*@")
_secrets: set[str] = set()


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***; an unparsable URL is hidden whole."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return MASK


def password_spellings(url: str) -> set[str]:
    """The URL's password as given and as it appears percent-encoded inside a URL; none when it hides nothing.

    A password equal to the user name hides nothing (the user name is printed everywhere), and masking it would
    mangle every mention of the user, e.g. "postgres" inside "postgresql".
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    password = parsed.password
    if not password or password == parsed.username:
        return set()
    return {str(password), quote(str(password), safe=""), quote_plus(str(password))}


def mask_passwords(text: str, *urls: str) -> str:
    """The text with the password of every URL it quotes, and the passwords of the given URLs, replaced by ***."""
    for url in urls:
        for spelling in password_spellings(url):
            text = text.replace(spelling, MASK)
    return PASSWORD_IN_URL.sub(rf"\g<head>{MASK}@", text)


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
    spellings = password_spellings(database_url)
    if not spellings:
        return
    _secrets.update(spellings)
    # A record factory sees every record at creation, including those of loggers without handlers
    # (printed by logging's last-resort handler) and tracebacks logged with exc_info
    current = logging.getLogRecordFactory()
    if not getattr(current, "masks_secrets", False):
        logging.setLogRecordFactory(_wrap_factory(current))
