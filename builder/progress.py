"""Progress of long builds (issue #7): steps rendered, sentences synthesised, PDFs written.

Stage: none; a reporter that the command line makes and passes down to the stages,
which only call `start(label, total)`, `advance(n)` and `done()`. On a terminal it is
one line on stderr that updates in place; when stderr is not a terminal (CI, a pipe)
it prints plain lines, a few per task, so logs stay short. Must not hold global state
nor decide anything about a build; a stage given `NO_PROGRESS` behaves exactly the same.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """The interface the stages see; this base class reports nothing."""

    def start(self, label: str, total: int) -> None:
        """A task begins: `label` in Swedish (e.g. "Sidor"), `total` units of work."""

    def advance(self, n: int = 1) -> None:
        """`n` more units of the current task are done."""

    def done(self) -> None:
        """The current task is finished."""


#: A reporter that reports nothing (the default for library callers and tests).
NO_PROGRESS = Progress()


class TerminalProgress(Progress):
    """One updating line on a terminal: `Sidor 812/2000 (41 %)`."""

    #: Redraw at most this often (seconds), so drawing never costs more than the work.
    INTERVAL = 0.1

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.label, self.total, self.count, self.drawn_at = "", 0, 0, 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.count, self.drawn_at = label, total, 0, 0.0
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        self.count += n
        self._draw()

    def done(self) -> None:
        if self.label:
            self.count = self.total
            self._draw(force=True)
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        self.label = ""

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.label or (not force and now - self.drawn_at < self.INTERVAL):
            return
        self.drawn_at = now
        share = f" ({100 * self.count // self.total} %)" if self.total else ""
        self.stream.write(f"\r\x1b[K{self.label} {self.count}/{self.total}{share}")
        self.stream.flush()


class LineProgress(Progress):
    """Plain lines for logs: the start of a task, every quarter of a long one, and its end."""

    #: Tasks shorter than this get only their start and end line.
    LONG = 200

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.label, self.total, self.count, self.next_mark = "", 0, 0, 0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.count = label, total, 0
        self.next_mark = total // 4 if total >= self.LONG else total + 1
        self._line(f"{label}: 0/{total}")

    def advance(self, n: int = 1) -> None:
        self.count += n
        if self.label and self.count >= self.next_mark and self.count < self.total:
            self._line(f"{self.label}: {self.count}/{self.total}")
            self.next_mark += max(1, self.total // 4)

    def done(self) -> None:
        if self.label:
            self._line(f"{self.label}: {self.total}/{self.total} klart")
        self.label = ""

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def progress_for(stream: TextIO | None = None, quiet: bool = False) -> Progress:
    """The reporter for a stream: an updating line on a terminal, plain lines otherwise, nothing when quiet."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        return NO_PROGRESS
    return TerminalProgress(stream) if stream.isatty() else LineProgress(stream)
