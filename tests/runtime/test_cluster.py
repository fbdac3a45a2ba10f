"""Issue 16: several runtime instances on one database, behind a proxy with no sticky sessions.

Two apps made by `create_app` on one database stand for two instances (PostgreSQL when
STEGVIS_TEST_POSTGRES_URL is set, a SQLite file always): whatever one instance does, the
other must see, and nothing may happen twice because two instances both did it. Checked:
a session and its CSRF token work on either instance and a logout on one ends it on the
other; failed logins spread round-robin over both are throttled as if on one; the
missed-registration job running on both flags each missed occasion once; the notification
outbox on both sends a patient's notice once and mails a member of staff at most once a
period; a change of the package folder reaches an instance when that instance rescans it (SIGHUP).
"""

from __future__ import annotations

import copy
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD, Browser, make_settings, seed
from sqlalchemy import func, select

from runtime import jobs
from runtime.app import create_app
from runtime.models import Enrolment, Flag, FlagKind, Notification, User
from runtime.services.notify import Notice, queue_staff_notice
from runtime.settings import LoginThrottleParams


@pytest.fixture
def pair(packages: Path, database_url: str, clock) -> Iterator[tuple]:
    """Two instances on one database (the second does not migrate: the first did), seeded once."""
    made = []

    def build(**extra):
        extra.setdefault("notify_worker", False)
        app = create_app(make_settings(packages, database_url, **extra), clock=clock, migrate=False)
        made.append(app)
        return app

    first, second = build(), build()
    people = seed(first)
    yield first, second, people
    for app in made:
        app.state.stegvis.db.dispose()


def count(app, *where) -> int:
    with app.state.stegvis.db.session() as s:
        return s.scalar(select(func.count()).select_from(where[0]).where(*where[1:]))


def same_browser_on(app, browser: Browser) -> Browser:
    """The same browser (its cookies and CSRF token) talking to another instance, as a proxy would send it."""
    other = Browser(app)
    for cookie in browser.client.cookies.jar:  # a copy: a cookie the other instance clears stays here
        other.client.cookies.jar.set_cookie(copy.copy(cookie))
    other.csrf = browser.csrf
    return other


# --- sessions and CSRF ---------------------------------------------------------------------------


def test_session__made_on_one_instance_works_on_the_other_and_logout_ends_it_on_both(pair):
    a, b, people = pair
    e = people.enrolment_a
    on_a = Browser(a)
    assert on_a.login("anna").status_code == 303
    on_b = same_browser_on(b, on_a)
    try:
        assert on_b.get(f"/moment/{e}").status_code == 200
        # A form posted to the other instance, with the token the first one handed out.
        sent = on_b.post(f"/moment/{e}/meddelanden", {"subject": "Fråga från B", "body": "Hej"})
        assert sent.status_code == 303, sent.text
        assert "Fråga från B" in on_a.get(f"/moment/{e}/meddelanden").text
        # A wrong token is refused on either instance.
        forged = on_b.client.post(f"/moment/{e}/meddelanden", data={"_csrf": "fel", "subject": "x", "body": "y"})
        assert forged.status_code == 403
        assert "Du är utloggad" in on_b.post("/logga-ut").text
        assert on_a.client.cookies.get("__Host-stegvis")  # instance A's browser still sends the old cookie
        refused = on_a.get(f"/moment/{e}")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/logga-in")
    finally:
        on_a.close()
        on_b.close()


def test_login_throttle__failures_round_robin_over_two_instances_count_as_on_one(packages, database_url, clock):
    throttle = LoginThrottleParams(account_free=4, address_free=100, first_delay_seconds=1)
    a = create_app(make_settings(packages, database_url, login_throttle=throttle, notify_worker=False),
                   clock=clock, migrate=False)
    b = create_app(make_settings(packages, database_url, login_throttle=throttle, notify_worker=False),
                   clock=clock, migrate=False)
    seed(a)
    browsers = [Browser(a), Browser(b)]
    try:
        for i in range(4):  # two failures on each instance: four in all
            assert browsers[i % 2].login("anna", "fel").status_code == 401
        for browser in browsers:  # each instance has seen only two, but the fifth try waits on both
            slowed = browser.login("anna", PASSWORD)
            assert slowed.status_code == 429 and "Vänta 1 sekund" in slowed.text
        clock.advance(seconds=1)
        assert browsers[1].login("anna", PASSWORD).status_code == 303
    finally:
        for browser in browsers:
            browser.close()
        for app in (a, b):
            app.state.stegvis.db.dispose()


@pytest.mark.parametrize(("header", "anna_waits"), [("X-Real-IP", False), (None, True)])
def test_login_throttle__behind_a_proxy__the_client_address_header_keeps_clients_apart(
        packages, database_url, clock, header, anna_waits):
    """Behind a proxy every client's TCP peer is the proxy: without the header, one client failing
    slows everyone's logins through that proxy; with it, each client has its own address counter."""
    throttle = LoginThrottleParams(account_free=100, address_free=3, first_delay_seconds=1)
    a = create_app(make_settings(packages, database_url, login_throttle=throttle, notify_worker=False,
                                 client_address_header=header), clock=clock, migrate=False)
    seed(a)
    attacker, anna = Browser(a), Browser(a)
    attacker.client.headers["X-Real-IP"] = "203.0.113.9"
    anna.client.headers["X-Real-IP"] = "198.51.100.7"
    try:
        for name in ("x1", "x2", "x3"):
            assert attacker.login(name, "fel").status_code == 401
        assert attacker.login("x4", "fel").status_code == 429
        assert anna.login("anna", PASSWORD).status_code == (429 if anna_waits else 303)
    finally:
        attacker.close()
        anna.close()
        a.state.stegvis.db.dispose()


def test_client_address_header__from_the_command_line_or_the_environment(monkeypatch):
    from runtime.server import settings_from_args

    monkeypatch.delenv("STEGVIS_CLIENT_ADDRESS_HEADER", raising=False)
    assert settings_from_args(Path("dist"), None, None, False).client_address_header is None
    monkeypatch.setenv("STEGVIS_CLIENT_ADDRESS_HEADER", "X-Real-IP")
    assert settings_from_args(Path("dist"), None, None, False).client_address_header == "X-Real-IP"
    assert settings_from_args(Path("dist"), None, None, False,
                              client_address_header="X-Forwarded-For").client_address_header == "X-Forwarded-For"


# --- two writes of one thing at once -------------------------------------------------------------


def _draft(ctx, enrolment, package, text: str):
    from runtime.services.patient import save_draft

    save_draft(ctx, enrolment, "mal", package.form("mal"), {"mal": [text]})


def _registration(ctx, enrolment, package, text: str):
    from runtime.enrolments import plan_schedule
    from runtime.models import EnrolmentPlan
    from runtime.schedule import iter_occasions, occasion_key
    from runtime.services.patient import register

    plan = next(p for p in enrolment.plans if p.plan_id == "steg")
    plan = ctx.db.get(EnrolmentPlan, plan.id)
    occasion = next(o for o in iter_occasions(plan_schedule(plan), ctx.app.tz) if o.status(ctx.now) == "open")
    register(ctx, enrolment, package, plan, occasion_key(occasion.at), {"steg": [text]}, None)


@pytest.mark.parametrize(("write", "answer"), [
    (_draft, "the second instance's draft replaces the first's"),
    (_registration, "the second instance is told the occasion is registered already (409)"),
])
def test_two_instances_write_one_thing_at_once__no_500(pair, write, answer):
    """Instance A has written (a form's draft, an occasion's registration) but not committed when
    instance B writes the same. Before the fix B found nothing, inserted too, waited on A's unique
    key and failed with an IntegrityError, a 500 (PostgreSQL), once A committed. Now B waits for A
    on the enrolment's row, then sees what A wrote."""
    from runtime.context import AppError, Ctx, UnitOfWork
    from runtime.models import FormDraft, Registration

    a, b, people = pair
    package = a.state.stegvis.store.get("testprogram", "0.1.0")

    def unit_of_work(app) -> tuple[Ctx, Enrolment]:
        state = app.state.stegvis
        ctx = Ctx(state, UnitOfWork(state.db), state.clock.now())
        ctx.user = ctx.db.get(User, people.patient_a)
        return ctx, ctx.db.get(Enrolment, people.enrolment_a)

    first, enrolment = unit_of_work(a)
    write(first, enrolment, package, "4000")  # flushed, not yet committed
    outcome: list[Exception | None] = []

    def second() -> None:
        ctx, enrolment = unit_of_work(b)
        try:
            write(ctx, enrolment, package, "5000")
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)
            ctx.uow.close(error=True)
            return
        outcome.append(None)
        ctx.uow.close(error=False)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # B is now waiting for A (on a row lock, or on SQLite's write lock)
    first.uow.close(error=False)
    thread.join(30)
    assert not thread.is_alive() and len(outcome) == 1
    with a.state.stegvis.db.session() as s:
        if write is _draft:
            assert outcome == [None]
            assert [d.answers["mal"] for d in s.scalars(select(FormDraft))] == [["5000"]]
        else:
            (error,) = outcome
            assert isinstance(error, AppError) and error.status == 409, repr(error)
            assert [r.values["steg"] for r in s.scalars(select(Registration))] == [4000]


# --- the missed-registration job -----------------------------------------------------------------


def test_missed_registration_job__on_both_instances_at_once__flags_each_occasion_once(pair):
    a, b, people = pair
    barrier = threading.Barrier(2)
    raised: list[int] = []

    def run(app) -> None:
        barrier.wait(10)
        raised.append(jobs.run_missed_registration_check(app.state.stegvis))

    threads = [threading.Thread(target=run, args=(app,)) for app in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(raised) == [0, 4]  # the seeded plans have four missed occasions (tests/runtime/test_flags.py)
    assert count(a, Flag, Flag.kind == FlagKind.missed_registration) == 4
    # Later runs on either instance find nothing new.
    assert jobs.run_missed_registration_check(b.state.stegvis) == 0
    assert jobs.run_missed_registration_check(a.state.stegvis) == 0
    assert count(b, Flag, Flag.kind == FlagKind.missed_registration) == 4


def test_missed_registration_job__turned_off_per_instance_by_the_environment(monkeypatch):
    from runtime.settings import RuntimeSettings

    monkeypatch.delenv("STEGVIS_MISSED_CHECK_MINUTES", raising=False)
    assert RuntimeSettings().missed_registration_check_minutes == 10
    monkeypatch.setenv("STEGVIS_MISSED_CHECK_MINUTES", "0")
    assert RuntimeSettings().missed_registration_check_minutes == 0
    monkeypatch.setenv("STEGVIS_MISSED_CHECK_MINUTES", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        RuntimeSettings()


# --- the notification outbox ---------------------------------------------------------------------


class Mailer:
    """Records the notices handed to it; `during` runs inside a send (another instance at work meanwhile)."""

    def __init__(self, sent: list[Notice], during=None) -> None:
        self.sent, self.during = sent, during

    def send(self, notice: Notice) -> None:
        self.sent.append(notice)
        during, self.during = self.during, None
        if during is not None:
            during()


def set_user(app, user_id: int, **values) -> None:
    with app.state.stegvis.db.session() as s:
        user = s.get(User, user_id)
        for key, value in values.items():
            setattr(user, key, value)


def test_outbox__staff_notice_on_its_way_from_one_instance__the_other_does_not_mail_again(pair):
    """While instance A mails the therapist, a new event queues another notice and instance B drains.

    Before the fix, B saw no notice *sent* yet (A's was only claimed) and mailed the same
    person again within the period: two e-mails where the batching promises one.
    """
    a, b, people = pair
    set_user(a, people.therapist, email="tove@region.example", notify_events=True)
    now = a.state.stegvis.clock.now()

    def queue() -> None:
        with a.state.stegvis.db.session() as s:
            assert queue_staff_notice(s, now, s.get(Enrolment, people.enrolment_a), "message") is not None

    def meanwhile() -> None:
        queue()  # the first row is claimed, not pending: this event queues a second row
        b.state.outbox.drain()

    sent: list[Notice] = []
    a.state.outbox.email = Mailer(sent, during=meanwhile)
    b.state.outbox.email = Mailer(sent)
    queue()
    a.state.outbox.drain()
    assert [n.to for n in sent] == ["tove@region.example"]
    with a.state.stegvis.db.session() as s:
        rows = list(s.scalars(select(Notification).order_by(Notification.id)))
    assert len(rows) == 2 and all(r.sent_at is not None and r.error is None for r in rows)


def test_outbox__patient_notice_drained_by_both_instances_at_once__sent_once(pair):
    a, b, people = pair
    set_user(a, people.patient_a, email="anna@example.se")
    tove = Browser(a)
    try:
        assert tove.login("tove").status_code == 303
        posted = tove.post(f"/personal/moment/{people.enrolment_a}/meddelanden",
                           {"subject": "Hej", "body": "Läs detta", "notify": "ja"})
        assert posted.status_code == 303, posted.text
    finally:
        tove.close()
    sent: list[Notice] = []
    barrier = threading.Barrier(2)
    for app in (a, b):
        app.state.outbox.email = Mailer(sent)

    def drain(app) -> None:
        barrier.wait(10)
        app.state.outbox.drain()

    threads = [threading.Thread(target=drain, args=(app,)) for app in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [n.to for n in sent] == ["anna@example.se"]


# --- packages ------------------------------------------------------------------------------------


def test_packages__each_instance_sees_a_change_of_the_folder_after_its_own_rescan(pair, packages):
    """Each instance keeps its own list of packages: every instance needs the files and its own SIGHUP."""
    a, b, _ = pair
    (version,) = [p for p in (packages / "testprogram").iterdir() if p.is_dir()]
    shutil.move(version, packages.parent / "withdrawn")  # a version withdrawn from the shared folder
    a.state.stegvis.store.scan()  # SIGHUP to instance A only
    assert a.state.stegvis.store.get("testprogram", version.name) is None
    assert b.state.stegvis.store.get("testprogram", version.name) is not None
    shutil.move(packages.parent / "withdrawn", version)  # back again: A serves it after its rescan
    b.state.stegvis.store.scan()
    a.state.stegvis.store.scan()
    assert a.state.stegvis.store.get("testprogram", version.name) is not None
    assert b.state.stegvis.store.get("testprogram", version.name) is not None
