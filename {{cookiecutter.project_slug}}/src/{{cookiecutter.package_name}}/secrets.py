"""Keep database passwords out of logs, errors and responses."""

import logging

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***; an unparsable URL is hidden whole."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "***"


class MaskSecretFilter(logging.Filter):
    """Replaces a secret in every formatted log message it sees."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg = message.replace(self.secret, "***")
            record.args = None
        return True


def install_log_masking(database_url: str) -> None:
    """Mask the database password in every log record, whichever logger emits it."""
    password = make_url(database_url).password
    if not password:
        return
    mask = MaskSecretFilter(str(password))
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(mask)
