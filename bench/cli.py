"""What every harness command (bench's, bench.recordings', the soak's) does alike: a bad
option said in one line, and SIGTERM unwinding as Ctrl-C does."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Iterator
from contextlib import contextmanager


class OneLineParser(argparse.ArgumentParser):
    """A bad option is said in one line (and exit 2), not after the whole usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancelling, `kill`) raises KeyboardInterrupt like Ctrl-C, so that every
    `with` stops the part it started; the previous handler is back on the way out."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
