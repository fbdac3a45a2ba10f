"""Issue #8: `stegvis runtime --demo` gives a newcomer a working FRAMÅT at once."""

from __future__ import annotations

from conftest import Browser, make_settings
from sqlalchemy import select

from runtime.app import create_app
from runtime.demo import LOGINS, seed_demo
from runtime.models import Flag, FlagKind, FormSubmission, LocalCredential


def test_demo__seeded_once_and_every_login_works(framat_packages, sqlite_url, clock):
    app = create_app(make_settings(framat_packages, sqlite_url), clock=clock)
    state = app.state.stegvis
    with state.db.session() as db:
        assert seed_demo(db, state.store, state.local_accounts, clock.now(), state.tz) is True
    with state.db.session() as db:
        assert seed_demo(db, state.store, state.local_accounts, clock.now(), state.tz) is False
    with state.db.session() as db:
        # Anna's health profile is sent and flagged (the demo must follow the program's questions:
        # when they change, the seed has to change too, not quietly leave the form out).
        sent = db.scalars(select(FormSubmission).where(FormSubmission.form_id == "halsoprofil")).all()
        assert len(sent) == 1 and sent[0].answers["roker"] == "aldrig"
        assert db.scalars(select(Flag).where(Flag.kind == FlagKind.form_submitted)).first() is not None
        # The demo's published passwords are not one-time passwords: no forced change (issue #13).
        assert not any(db.scalars(select(LocalCredential.must_change_password)))
    assert {"anna", "bertil"} <= {login.username for login in LOGINS}  # the two checked more closely below
    for login in LOGINS:
        b = Browser(app)
        assert b.login(login.username, login.password).status_code == 303, login.username
        home = b.get("/", follow_redirects=True)
        assert home.status_code == 200
        if login.username == "anna":
            assert "Hej Anna" in home.text and "1 oläst" in home.text and "Antal steg under dagen" in home.text
            plan = b.get(home.url.path + "/aktivitetsplaner/" + home.text.split("/aktivitetsplaner/")[1].split('"')[0])
            assert plan.status_code == 200 and "<svg" in plan.text
        if login.username == "bertil":
            assert "Introduktion till programmet" in home.text
        b.close()
    state.db.dispose()


def test_demo__without_framat_a_clear_message(packages, sqlite_url, clock):
    import pytest

    from runtime.demo import DemoError

    app = create_app(make_settings(packages, sqlite_url), clock=clock)
    state = app.state.stegvis
    with pytest.raises(DemoError, match="make build"):
        with state.db.session() as db:
            seed_demo(db, state.store, state.local_accounts, clock.now(), state.tz)
    state.db.dispose()
