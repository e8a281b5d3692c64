"""An asyncio event loop on virtual time: when nothing is ready to run, the clock jumps to the next timer instead of
sleeping, so minutes of timeouts take milliseconds. For code that waits on timers and futures only (no sockets)."""

import asyncio
import selectors
from collections.abc import Callable


class Deadlock(RuntimeError):
    """Nothing is ready and no timer is set, yet the loop was asked to wait for something."""


class VirtualSelector(selectors.SelectSelector):
    """A selector that never waits: asked to block, it moves the clock forward by the time it was asked to wait."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        # called at each idle instant: everything runnable at the current time has run
        self.on_idle: Callable[[], None] = lambda: None
        self.settled: asyncio.Future[None] | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:
            return []  # callbacks are ready or a timer is due now: not idle yet
        self.on_idle()
        if self.settled is not None and not self.settled.done():
            self.settled.set_result(None)  # the loop runs this future's callback next and stops, time unchanged
            return []
        if timeout is None:
            raise Deadlock("every task waits and no timer is set")
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """The event loop whose time() is the virtual clock; settle() and advance() run it."""

    def __init__(self) -> None:
        self.selector = VirtualSelector()
        super().__init__(self.selector)

    def time(self) -> float:
        return self.selector.now

    def settle(self) -> None:
        """Run everything that can run now, without moving the clock."""
        self.selector.settled = self.create_future()
        self.run_until_complete(self.selector.settled)

    def advance(self, seconds: float) -> None:
        """Run for `seconds` of virtual time, then settle."""
        self.run_until_complete(asyncio.sleep(seconds))
        self.settle()
