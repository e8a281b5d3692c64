"""Errors an event loop can only log: a future whose exception nobody retrieved, a task destroyed while pending.

asyncio reports them through the `asyncio` logger when the object is freed, which may be long after the test that
caused them (a reference cycle keeps it until a garbage collection, at the latest when the interpreter exits, after
pytest's summary). Recording that logger turns them into test failures.
"""

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager


class LoopErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def collected(self) -> list[str]:
        """What was logged so far, after a garbage collection has freed (and so reported) what is unreachable."""
        gc.collect()
        return list(self.messages)


@contextmanager
def recorded_loop_errors() -> Iterator[LoopErrors]:
    handler = LoopErrors()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
