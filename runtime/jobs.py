"""Background work of `stegvis runtime`: the missed-registration check, every few minutes.

Input: an app's state (database, package store, clock, settings). Output: flags in the
database (`runtime.services.flags.check_missed_registrations` does the work). Each unit
is checked in its own short transaction, so the SQLite write lock is never held long.
Every worker process of `--workers`, on every instance sharing the database, runs its own
thread; the check's row locks (and SQLite's single writer) keep them from flagging an
occasion twice (tests/runtime/test_cluster.py). STEGVIS_MISSED_CHECK_MINUTES=0 turns the
thread off on an instance, to leave the work to one.

Must not: let one failed run stop the thread (the next run tries again), or keep
state in module globals (the thread belongs to the app that started it).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from runtime.context import AppState
from runtime.models import Unit
from runtime.services.flags import check_missed_registrations

log = logging.getLogger("stegvis.runtime")


def run_missed_registration_check(state: AppState) -> int:
    """Check every unit once (one transaction per unit); returns how many flags were raised."""
    with state.db.session() as db:
        units = list(db.scalars(select(Unit.id).order_by(Unit.id)))
    raised = 0
    for unit_id in units:
        with state.db.session() as db:
            raised += check_missed_registrations(db, state.clock.now(), state.tz, store=state.store, unit_id=unit_id)
    return raised


class MissedRegistrationJob:
    """A daemon thread that runs the missed-registration check at start and then every interval."""

    def __init__(self, state: AppState, interval_seconds: float) -> None:
        self.state = state
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="missed-registrations", daemon=True)

    def start(self) -> MissedRegistrationJob:
        """Start the thread (returns self)."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait a little for a run in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                raised = run_missed_registration_check(self.state)
                if raised:
                    log.info("Missade registreringar: %d nya flaggor.", raised)
            except Exception:  # noqa: BLE001 - a background loop must survive a bad run (database restart…)
                log.exception("Kontrollen av missade registreringar misslyckades; den körs igen om en stund.")
            self._stop.wait(self.interval)


def start_jobs(state: AppState) -> MissedRegistrationJob | None:
    """Start the app's background jobs per its settings (None when the interval is 0: off)."""
    minutes = state.settings.missed_registration_check_minutes
    if minutes <= 0:
        return None
    return MissedRegistrationJob(state, minutes * 60).start()
