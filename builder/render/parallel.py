"""Work split between the parent and a forked child, for the render stage (issue #7).

Stage: render. Input: a function and its arguments. Output: its return value, computed
in a child process that shares the parent's memory copy-on-write (the parsed program
is never pickled; only the result, plain bytes, comes back through a pipe). Without
`fork` the call runs in the calling process. Must not be used from a process with
other threads running (`stegvis serve` renders with one job).

Shared by the HTML pages and the PDF stage (whose laid-out book is never pickled);
kept in its own module so that the HTML renderer does not import WeasyPrint.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable


def can_fork() -> bool:
    """Whether this platform can fork a child that shares the parent's memory."""
    return "fork" in multiprocessing.get_all_start_methods()


def _run_child(send, fn: Callable, args: tuple) -> None:
    try:
        result = ("ok", fn(*args))
    except BaseException:  # reported to the parent, which raises it as a bug
        result = ("error", traceback.format_exc())
    send.send(result)
    send.close()


class Forked:
    """`fn(*args)` in a forked child; `result()` waits for it (or runs it here without fork)."""

    def __init__(self, fn: Callable, *args) -> None:
        self._inline = None if can_fork() else (fn, args)
        if self._inline is not None:
            return
        ctx = multiprocessing.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_run_child, args=(send, fn, args), daemon=True)
        self._process.start()
        send.close()

    def result(self):
        """The child's return value; RuntimeError with the child's traceback when it failed."""
        if self._inline is not None:
            fn, args = self._inline
            return fn(*args)
        try:
            status, value = self._recv.recv()
        except EOFError:
            status, value = "error", "the render worker ended without a result"
        finally:
            self._recv.close()
            self._process.join()
        if status != "ok":
            raise RuntimeError(f"render worker failed:\n{value}")
        return value
