"""Login throttling (issue #13): failed password logins slow further tries, and never lock anyone out.

Two counters per try, both in the `login_throttle` table so that every process and
machine on the database shares them:

- the **account name** as typed (normalised), whether or not such an account exists, so
  an unknown name is throttled exactly like a known one and the answers cannot tell them
  apart;
- the **client address** (the TCP peer, or the header a reverse proxy sets; see
  `RuntimeSettings.client_address_header`).

After `free` failures a counter makes the next try wait `first_delay_seconds`, doubling with
every further failure, up to its cap (`LoginThrottleParams`; the numbers are in README.md).
The account's wait binds only clients whose address has failed lately: a person at a
client that has not been failing may always try, so failing on purpose against someone's
account slows the attacker and not its owner. A counter forgets everything
`forget_after_minutes` after its last failure.

A try is counted as a failure *before* the password is checked (`reserve`, one brief write
transaction), and given back when it succeeds (`forgive`). So a burst of simultaneous
tries cannot slip past the counters while the (slow, lock-free) argon2 check runs.

Keys are SHA-256 hashes of the name or address, so the table shows no usernames that were
tried and no addresses at a glance. They are not keyed with the runtime's secret (which is
made only when a purge first needs it): an address could be found again by trying them all,
but a row lives only until its counter is forgotten, and whoever reads the database can
read far more than this anyway.

Must not: hold a transaction open while a password hash is checked (the callers do the
checking between `reserve` and `forgive`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from runtime.i18n import N_, NP_
from runtime.models import LoginThrottle
from runtime.settings import LoginThrottleParams


def delay_after(failures: int, free: int, first: float, cap: float) -> float:
    """Seconds a counter with `failures` makes the next try wait: 0 up to `free`, then doubling to `cap`."""
    if failures < free or first <= 0:
        return 0.0
    return min(first * 2.0 ** min(failures - free, 60), cap)


def throttle_message(seconds: float) -> str:
    """The answer to a try that must wait (Swedish; in the reader's language where shown: runtime.i18n)."""
    whole = max(1, int(seconds + 0.999))
    if whole < 120:
        wait = NP_("%(num)s sekund", "%(num)s sekunder", whole)
    else:
        wait = NP_("%(num)s minut", "%(num)s minuter", (whole + 59) // 60)
    return N_("För många misslyckade inloggningsförsök. Vänta %(wait)s och försök sedan igen. "
              "Har du glömt lösenordet? Kontakta din vårdenhet.", wait=wait)


class Throttle:
    """The counters of failed logins per account name and per client address."""

    def __init__(self, params: LoginThrottleParams) -> None:
        self.params = params

    @staticmethod
    def _hash(kind: str, value: str) -> str:
        return hashlib.sha256(f"stegvis-login-throttle\0{kind}\0{value}".encode("utf-8", "replace")).hexdigest()

    def keys(self, username: str, address: str) -> tuple[str, str]:
        """The (account, address) keys of a try."""
        return self._hash("konto", username), self._hash("adress", address)

    def _rows(self, db: Session, keys: tuple[str, str], now: datetime) -> dict[str, LoginThrottle]:
        """Both counters, created when missing and locked for the transaction (PostgreSQL; SQLite is locked whole)."""
        forget = timedelta(minutes=self.params.forget_after_minutes)
        # Forgetting is deleting: a counter whose last failure is old enough starts again at 0.
        db.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at <= now - forget))
        insert = _insert_for(db)
        for key in sorted(set(keys)):  # one order, so two transactions never wait for each other's row
            db.execute(insert(LoginThrottle).values(key=key, failures=0, last_failure_at=now)
                       .on_conflict_do_nothing(index_elements=["key"]))
        rows = db.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))
                          .order_by(LoginThrottle.key).with_for_update()).all()
        return {row.key: row for row in rows}

    def wait(self, account: LoginThrottle, address: LoginThrottle, now: datetime) -> float:
        """Seconds the try must still wait (0: it may go ahead)."""
        p = self.params
        waits = [_left(address, delay_after(address.failures, p.address_free, p.first_delay_seconds,
                                            p.address_max_delay_seconds), now)]
        if address.failures > 0:  # the account's wait binds only a client that has been failing itself
            waits.append(_left(account, delay_after(account.failures, p.account_free, p.first_delay_seconds,
                                                    p.account_max_delay_seconds), now))
        return max(waits)

    def reserve(self, db: Session, username: str, address: str, now: datetime) -> float:
        """In a brief write transaction: the seconds to wait, or 0 after counting this try as a failure.

        The same statements run whether or not `username` names an account.
        """
        account_key, address_key = self.keys(username, address)
        rows = self._rows(db, (account_key, address_key), now)
        account, client = rows[account_key], rows[address_key]
        left = self.wait(account, client, now)
        if left > 0:
            return left
        for row in {id(r): r for r in (account, client)}.values():
            row.failures += 1
            row.last_failure_at = now
        db.flush()
        return 0.0

    def forgive(self, db: Session, username: str, address: str) -> None:
        """The try succeeded: the account's counter starts again; the address gets this try back."""
        account_key, address_key = self.keys(username, address)
        rows = {row.key: row for row in db.scalars(select(LoginThrottle).where(
            LoginThrottle.key.in_((account_key, address_key))).with_for_update())}
        if account_key in rows:
            rows[account_key].failures = 0
        if address_key in rows and address_key != account_key:
            rows[address_key].failures = max(0, rows[address_key].failures - 1)
        db.flush()


def _left(row: LoginThrottle, delay: float, now: datetime) -> float:
    if delay <= 0:
        return 0.0
    return max(0.0, (row.last_failure_at + timedelta(seconds=delay) - now).total_seconds())


def _insert_for(db: Session):
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
