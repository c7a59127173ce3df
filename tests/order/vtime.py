"""The Python half of tests/order: runs a twin <name>.py under virtual time, so that
its stdout can be compared byte for byte with <name>.c's (see vtime.h) and <name>.out.

The idea: asyncio's loop never reads a clock to decide what is due; it asks its own
time() and, when nothing is ready, blocks in its selector for as long as the nearest
timer is away. So a loop whose time() is a plain number, and whose selector, instead
of blocking, looks once and then moves that number forward by the time it was asked
to wait, runs every timer at its exact deadline, in asyncio's own order, without
sleeping. The clock starts at 0.0 like weft's virtual clock.

    import vtime
    vtime.run(main())       # asyncio.run(main()) under virtual time
    vtime.log("text")       # prints "1.500 text": the virtual clock, then the text
"""
import asyncio
import selectors


class VirtualClock:
    """Seconds since the run began; moves only when the loop would otherwise wait."""

    def __init__(self):
        self.now = 0.0


class SkippingSelector(selectors.DefaultSelector):
    """A selector whose waits for a timer take no real time."""

    def __init__(self, clock):
        super().__init__()
        self._clock = clock

    def select(self, timeout=None):
        # No timer pending: only real I/O or another thread can wake the loop, and
        # virtual time has nowhere to jump, so wait for real rather than spin.
        if timeout is None:
            return super().select(None)
        events = super().select(0)
        # Advance by the wait asked for, not to a deadline read from the loop's
        # internals: the loop computed it as deadline - now, so now + wait is the
        # deadline, and a wait capped at the loop's maximum simply comes back here.
        if not events and timeout > 0:
            self._clock.now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose time() is a VirtualClock."""

    def __init__(self):
        self._clock = VirtualClock()
        super().__init__(SkippingSelector(self._clock))

    def time(self):
        return self._clock.now


def run(main):
    """Runs the coroutine main to completion under virtual time and returns its result.

    asyncio.Runner does what asyncio.run does around the coroutine (cancel leftover
    tasks, finalize async generators, shut the default executor down), so a twin's
    shutdown happens in the same order as under asyncio.run.
    """
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)


def log(text):
    """Prints text after the virtual time, "%.3f ", as vtime_log() does in C."""
    print("%.3f %s" % (asyncio.get_running_loop().time(), text))
