"""Issue #13: logins through OpenID Connect (e-identification for patients, SITHS for staff).

Against a real provider (node's oidc-provider, tests/runtime/oidc/provider.mjs, on a
loopback port): a therapist logs in by HSA-id (private_key_jwt) and starts an enrolment,
and that patient logs in by personnummer (client_secret_basic) and reaches their program
at once; refusals (a valid personnummer with no program, an unknown HSA-id, a missing or
invalid claim, a replayed state, a state from another browser, a cancelled login); logout
at the provider with id_token_hint. Against ID tokens made here with a key set we control:
another audience, an extra audience, expiry and the clock skew, a future iat, a wrong
signature, alg none, another issuer, a missing or replayed nonce, a rolled key. And the
configuration: a bad file is refused with every problem and `stegvis runtime` exits 2.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Browser, make_settings, seed
from oidc.testprovider import log_in_at_provider, missing, provider_configs, start_provider
from sqlalchemy import select

from runtime.app import create_app
from runtime.clock import FixedClock
from runtime.models import AccessLogEntry, LoginSession, OidcPendingLogin, OidcSessionToken, User
from runtime.oidc import OidcClient, OidcConfigError, OidcError, OidcProviderConfig, load_oidc_config

BASE = "https://testserver"
needs_provider = pytest.mark.skipif(missing() is not None, reason=missing() or "")


# --- against the test provider -------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """The test provider, once for the module (its clients know https://testserver)."""
    if missing() is not None:
        pytest.skip(missing())
    running = start_provider(tmp_path_factory.mktemp("oidc"), [BASE])
    yield running
    running.stop()


@pytest.fixture
def oidc_app(packages, database_url, provider):
    """An app with both test providers; its clock is the real time, as the provider's tokens are."""
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    app = create_app(make_settings(packages, database_url, oidc_providers=provider_configs(provider)), clock=clock,
                     migrate=False)
    yield app
    app.state.stegvis.db.dispose()


@pytest.fixture
def staff_people(oidc_app):
    """The conftest people; the therapist Tove has the HSA-id the provider vouches for."""
    people = seed(oidc_app)
    with oidc_app.state.stegvis.db.session() as db:
        db.get(User, people.therapist).hsa_id = "SE0000000000-TOVE"
    return people


def start(browser: Browser, provider_name: str):
    """The runtime's first step: the redirect to the provider."""
    response = browser.get(f"/logga-in/oidc/{provider_name}")
    assert response.status_code == 303, response.text[:300]
    return response.headers["location"]


def log_in(app, provider_name: str, person: str, action: str = "login") -> tuple[Browser, object, str]:
    """A whole login in a fresh browser: (browser, the runtime's answer at the callback, the callback URL)."""
    browser = Browser(app)
    back = log_in_at_provider(start(browser, provider_name), person, BASE, action)
    return browser, browser.get(back), back


def access_rows(app, action: str) -> list[AccessLogEntry]:
    with app.state.stegvis.db.session() as db:
        return list(db.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action)))


@needs_provider
def test_authorization_request__code_flow_pkce_s256_state_nonce_and_binding_cookie(oidc_app, staff_people,
                                                                                   provider):
    browser = Browser(oidc_app)
    location = start(browser, "e-legitimation")
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(provider.issuer + "/auth?")
    assert query["response_type"] == ["code"] and query["client_id"] == ["stegvis-e-legitimation"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 40 and len(query["nonce"][0]) >= 40
    assert query["redirect_uri"] == [f"{BASE}/logga-in/oidc/e-legitimation/tillbaka"]
    assert "https://id.oidc.se/scope/naturalPersonNumber" in query["scope"][0].split()
    cookie = browser.client.cookies.get("__Host-stegvis-oidc")
    assert cookie
    with oidc_app.state.stegvis.db.session() as db:
        row = db.scalar(select(OidcPendingLogin))
        # Only hashes of the state and the cookie are kept.
        assert query["state"][0] not in (row.state_hash, row.browser_hash) and cookie != row.browser_hash
        assert row.nonce == query["nonce"][0]
    browser.close()


@needs_provider
def test_therapist_by_hsa_id_starts_enrolment__patient_by_personnummer_sees_program(oidc_app, staff_people):
    tove, answer, _ = log_in(oidc_app, "siths", "tove")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert tove.get("/", follow_redirects=True).url.path.startswith("/personal")
    tove.csrf = tove.get("/api/v1/session").json()["csrf_token"]
    started = tove.post("/personal/moment/nytt", {"personal_number": "19550211-4936", "display_name": "Greta Gren",
                                                   "package": "testprogram/0.1.0"})
    assert started.status_code == 303, started.text[:500]

    greta, answer, _ = log_in(oidc_app, "e-legitimation", "greta")
    assert answer.status_code == 303
    home = greta.get("/", follow_redirects=True)
    assert home.status_code == 200 and "Testprogrammet" in home.text and "Greta Gren" in home.text
    with oidc_app.state.stegvis.db.session() as db:
        providers = set(db.scalars(select(LoginSession.provider)))
        assert providers == {"oidc:siths", "oidc:e-legitimation"}
        assert db.scalar(select(OidcSessionToken).where(OidcSessionToken.provider == "e-legitimation")) is not None
    logins = access_rows(oidc_app, "login")
    greta_id = next(r.patient_id for r in logins if r.target == "oidc:e-legitimation")
    with oidc_app.state.stegvis.db.session() as db:
        assert db.get(User, greta_id).personal_number == "195502114936"
    assert {r.target for r in logins} == {"oidc:siths", "oidc:e-legitimation"}
    tove.close()
    greta.close()


@needs_provider
def test_patient__reaches_only_own_enrolment(oidc_app, staff_people):
    anna, answer, _ = log_in(oidc_app, "e-legitimation", "anna")
    assert answer.status_code == 303
    assert anna.get(f"/moment/{staff_people.enrolment_a}").status_code == 200
    assert anna.get(f"/moment/{staff_people.enrolment_b}").status_code == 404
    assert anna.get("/personal").status_code == 403
    anna.close()


@needs_provider
def test_personnummer_without_enrolment__clear_page_no_session_and_logged(oidc_app, staff_people):
    browser, answer, _ = log_in(oidc_app, "e-legitimation", "okand_patient")
    assert answer.status_code == 200
    assert "Du har inget pågående program här" in answer.text and "kontakta din vårdenhet" in answer.text
    assert "198112189876" not in answer.text and "19811218" not in answer.text
    assert browser.client.cookies.get("__Host-stegvis") is None
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == ["oidc:e-legitimation:no_enrolment"]
    browser.close()


@needs_provider
def test_unknown_hsa_id__refused_saying_whom_to_ask(oidc_app, staff_people):
    browser, answer, _ = log_in(oidc_app, "siths", "okand")
    assert answer.status_code == 403
    assert "SE0000000000-OKAND" in answer.text and "behörighetsadministratören på din vårdenhet" in answer.text
    assert browser.client.cookies.get("__Host-stegvis") is None
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == ["oidc:siths:staff_refused"]
    browser.close()


@needs_provider
def test_staff_provider__never_logs_in_a_patient_and_patient_provider_never_staff(oidc_app, staff_people):
    # Tove's claim carries an HSA-id, no personnummer; Anna's a personnummer, no HSA-id.
    _, answer, _ = log_in(oidc_app, "e-legitimation", "tove")
    assert answer.status_code == 403
    _, answer, _ = log_in(oidc_app, "siths", "anna")
    assert answer.status_code == 403
    assert sorted(r.target for r in access_rows(oidc_app, "login.failed")) == [
        "oidc:e-legitimation:missing_identity_claim", "oidc:siths:missing_identity_claim"]


@needs_provider
@pytest.mark.parametrize(("person", "reason"), [("utan_nummer", "missing_identity_claim"),
                                                ("fel_nummer", "person_refused")])
def test_missing_or_invalid_personnummer_claim__refused(oidc_app, staff_people, person, reason):
    browser, answer, _ = log_in(oidc_app, "e-legitimation", person)
    assert answer.status_code == 403 and "Inloggningen misslyckades" in answer.text
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == [f"oidc:e-legitimation:{reason}"]
    browser.close()


@needs_provider
def test_replayed_state__refused_the_second_time(oidc_app, staff_people):
    browser, answer, back = log_in(oidc_app, "e-legitimation", "anna")
    assert answer.status_code == 303
    again = browser.get(back)
    assert again.status_code == 403 and "har redan använts" in again.text
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == ["oidc:e-legitimation:unknown_state"]
    browser.close()


@needs_provider
def test_state_from_another_browser__refused_and_used_up(oidc_app, staff_people):
    victim = Browser(oidc_app)
    back = log_in_at_provider(start(victim, "e-legitimation"), "anna", BASE)
    attacker = Browser(oidc_app)
    assert attacker.get(back).status_code == 403
    assert attacker.client.cookies.get("__Host-stegvis") is None
    assert victim.get(back).status_code == 403  # the state was used up by the first try
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == [
        "oidc:e-legitimation:other_browser", "oidc:e-legitimation:unknown_state"]
    victim.close()
    attacker.close()


@needs_provider
def test_login_under_way_too_old__refused(oidc_app, staff_people):
    browser = Browser(oidc_app)
    back = log_in_at_provider(start(browser, "e-legitimation"), "anna", BASE)
    oidc_app.state.stegvis.clock.advance(minutes=11)
    assert browser.get(back).status_code == 403
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == ["oidc:e-legitimation:login_expired"]
    browser.close()


@needs_provider
def test_cancelled_at_provider__login_page_says_so(oidc_app, staff_people):
    browser, answer, _ = log_in(oidc_app, "e-legitimation", "anna", action="cancel")
    assert answer.status_code == 403 and "Inloggningen avbröts" in answer.text
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == [
        "oidc:e-legitimation:provider_error:access_denied"]
    browser.close()


@needs_provider
def test_issuer_in_response_not_the_providers__refused(oidc_app, staff_people):
    browser = Browser(oidc_app)
    back = log_in_at_provider(start(browser, "e-legitimation"), "anna", BASE)
    back = re.sub(r"([?&]iss=)[^&]+", r"\1https%3A%2F%2Fond.example", back)
    assert browser.get(back).status_code == 403
    assert [r.target for r in access_rows(oidc_app, "login.failed")] == ["oidc:e-legitimation:iss_mismatch"]
    browser.close()


@needs_provider
def test_replayed_nonce__an_earlier_logins_id_token_refused_for_a_new_login(oidc_app, staff_people):
    anna, answer, _ = log_in(oidc_app, "e-legitimation", "anna")
    assert answer.status_code == 303
    with oidc_app.state.stegvis.db.session() as db:
        old_token = db.scalar(select(OidcSessionToken.id_token))
    start(Browser(oidc_app), "e-legitimation")
    with oidc_app.state.stegvis.db.session() as db:
        new_nonce = db.scalar(select(OidcPendingLogin.nonce))
    client = oidc_app.state.stegvis.providers["oidc:e-legitimation"].client
    now = oidc_app.state.stegvis.clock.now()
    with pytest.raises(OidcError) as refused:
        client.verify_id_token(old_token, new_nonce, now)
    assert refused.value.reason == "invalid_nonce"
    anna.close()


@needs_provider
def test_logout__ends_session_here_and_at_provider_with_id_token_hint(oidc_app, staff_people, provider):
    anna, _, _ = log_in(oidc_app, "e-legitimation", "anna")
    anna.csrf = anna.get("/api/v1/session").json()["csrf_token"]
    page = anna.get(f"/moment/{staff_people.enrolment_a}")
    assert f"form-action 'self' {provider.issuer}" in page.headers["content-security-policy"]
    out = anna.post("/logga-ut")
    assert out.status_code == 303
    location = out.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(provider.issuer + "/session/end?")
    assert query["post_logout_redirect_uri"] == [f"{BASE}/utloggad"]
    assert query["id_token_hint"][0].count(".") == 2 and query["client_id"] == ["stegvis-e-legitimation"]
    with oidc_app.state.stegvis.db.session() as db:
        assert db.scalar(select(LoginSession)) is None and db.scalar(select(OidcSessionToken)) is None
    assert anna.get(f"/moment/{staff_people.enrolment_a}").status_code == 303  # to the login page
    back = anna.get("/utloggad")
    assert back.status_code == 200 and "Du är utloggad" in back.text
    anna.close()


@needs_provider
def test_login_page__provider_buttons_and_the_password_form(oidc_app, staff_people):
    page = Browser(oidc_app).get("/logga-in")
    assert '<a class="rt-button-link" href="/logga-in/oidc/e-legitimation">Logga in med e-legitimation</a>' in page.text
    assert '<a class="rt-button-link" href="/logga-in/oidc/siths">Logga in med SITHS-kort</a>' in page.text
    assert 'action="/logga-in"' in page.text  # local accounts stay on until the setting says otherwise
    assert Browser(oidc_app).get("/logga-in/oidc/okand").status_code == 404


@needs_provider
def test_personnummer__never_in_application_logs(oidc_app, staff_people, caplog):
    caplog.set_level(logging.DEBUG)
    log_in(oidc_app, "e-legitimation", "anna")
    log_in(oidc_app, "e-legitimation", "okand_patient")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Inloggning via e-legitimation" in text
    for number in ("191212121212", "121212-1212", "198112189876", "811218-9876"):
        assert number not in text


@needs_provider
def test_provider_unreachable__login_page_says_try_later(packages, sqlite_url, provider):
    config = provider_configs(provider)[0].model_copy(update={"discovery_url": "http://127.0.0.1:9/"
                                                              ".well-known/openid-configuration"})
    app = create_app(make_settings(packages, sqlite_url, oidc_providers=(config,)), migrate=False)
    answer = Browser(app).get("/logga-in/oidc/e-legitimation")
    assert answer.status_code == 503 and "svarar inte just nu" in answer.text
    app.state.stegvis.db.dispose()


# --- ID tokens made here, against a key set we control -------------------------------------------


ISSUER = "https://idp.example.se"
CLIENT = "stegvis"
NONCE = "n-0S6_WzA2Mj"


class FakeProvider:
    """Discovery and JWKS answers for an OidcClient, with a key of our own; counts the fetches."""

    def __init__(self) -> None:
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
        self.fetches: list[str] = []
        self.discovery = {"issuer": ISSUER, "authorization_endpoint": ISSUER + "/auth",
                          "token_endpoint": ISSUER + "/token", "jwks_uri": ISSUER + "/jwks",
                          "end_session_endpoint": ISSUER + "/logout", "code_challenge_methods_supported": ["S256"],
                          "id_token_signing_alg_values_supported": ["RS256"]}

    def __call__(self, url: str, timeout: float) -> dict:
        self.fetches.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return self.discovery
        return {"keys": [self.key.as_dict(private=False)]}

    def token(self, key=None, header: dict | None = None, **claims) -> str:
        from joserfc import jwt

        now = int(time.time())
        body = {"iss": ISSUER, "sub": "abc", "aud": CLIENT, "exp": now + 300, "iat": now, "nonce": NONCE,
                "https://id.oidc.se/claim/personalIdentityNumber": "191212121212", **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": "k1", **(header or {})}, body, key or self.key)


@pytest.fixture
def fake():
    return FakeProvider()


@pytest.fixture
def client(fake):
    config = OidcProviderConfig(name="test", kind="patient", discovery_url=ISSUER, client_id=CLIENT,
                                client_secret="s")
    return OidcClient(config, fetch_json=fake)


def reason(client, token: str, nonce: str = NONCE, now: datetime | None = None) -> str:
    try:
        client.verify_id_token(token, nonce, now or datetime.now(UTC))
    except OidcError as exc:
        return exc.reason
    return "ok"


def test_id_token__valid__claims_and_identity(client, fake):
    claims = client.verify_id_token(fake.token(), NONCE, datetime.now(UTC))
    assert client.identity(claims) == "191212121212"


def test_id_token__another_audience__refused(client, fake):
    assert reason(client, fake.token(aud="nagon-annan")) == "invalid_aud"
    assert reason(client, fake.token(aud=[CLIENT, "nagon-annan"], azp=CLIENT)) == "invalid_aud"


def test_id_token__expired_refused__within_the_clock_skew_accepted(client, fake):
    now = int(time.time())
    assert reason(client, fake.token(exp=now - 61, iat=now - 600)) == "expired"
    assert reason(client, fake.token(exp=now - 30, iat=now - 600)) == "ok"  # 60 s skew by default
    assert reason(client, fake.token(iat=now + 120)) == "invalid_iat"  # issued in the future
    assert reason(client, fake.token(nbf=now + 120)) != "ok"


def test_id_token__wrong_signature_or_alg_none__refused(client, fake):
    from joserfc.jwk import RSAKey

    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    assert reason(client, fake.token(key=other)) == "bad_signature"
    token = fake.token()
    head, body, _ = token.split(".")
    assert reason(client, f"{head}.{body}.") != "ok"
    import base64
    import json

    none_head = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    assert reason(client, f"{none_head}.{body}.") != "ok"


def test_id_token__wrong_issuer_or_nonce__refused(client, fake):
    assert reason(client, fake.token(iss="https://ond.example")) == "invalid_iss"
    assert reason(client, fake.token(), nonce="en-annan-nonce") == "invalid_nonce"
    assert reason(client, fake.token(nonce=None)) == "missing_nonce"


def test_id_token__missing_identity_claim__refused(client, fake):
    claims = client.verify_id_token(fake.token(**{"https://id.oidc.se/claim/personalIdentityNumber": None}), NONCE,
                                    datetime.now(UTC))
    with pytest.raises(OidcError) as refused:
        client.identity(claims)
    assert refused.value.reason == "missing_identity_claim"


def test_id_token__samordningsnummer_claim_read_when_no_personnummer(client, fake):
    token = fake.token(**{"https://id.oidc.se/claim/personalIdentityNumber": None,
                          "https://id.oidc.se/claim/coordinationNumber": "197010632391"})
    assert client.identity(client.verify_id_token(token, NONCE, datetime.now(UTC))) == "197010632391"


def test_id_token__rolled_key__fetched_again_once(client, fake):
    from joserfc.jwk import RSAKey

    assert reason(client, fake.token()) == "ok"
    fake.key = RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256", "use": "sig"})
    assert reason(client, fake.token(header={"kid": "k2"})) == "ok"
    assert sum(url.endswith("/jwks") for url in fake.fetches) == 2
    unknown = RSAKey.generate_key(2048, parameters={"kid": "k3"})
    assert reason(client, fake.token(key=unknown, header={"kid": "k3"})) != "ok"
    assert sum(url.endswith("/jwks") for url in fake.fetches) == 2  # not again within a minute


def test_discovery__issuer_must_match_the_discovery_url(client, fake):
    fake.discovery["issuer"] = "https://ond.example"
    with pytest.raises(OidcError) as refused:
        client.metadata()
    assert refused.value.reason == "issuer_mismatch"


def test_discovery__no_pkce_s256__refused(client, fake):
    fake.discovery["code_challenge_methods_supported"] = ["plain"]
    with pytest.raises(OidcError):
        client.metadata()


def test_logout_url__end_session_with_id_token_hint(client):
    url = client.logout_url("a.b.c", "https://stegvis.example/utloggad")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(ISSUER + "/logout?")
    assert query == {"client_id": [CLIENT], "post_logout_redirect_uri": ["https://stegvis.example/utloggad"],
                     "id_token_hint": ["a.b.c"]}


# --- configuration -------------------------------------------------------------------------------


GOOD = """
[[provider]]
name = "e-legitimation"
kind = "patient"
discovery_url = "https://idp.example.se/oidc"
client_id = "stegvis"
client_secret_env = "TEST_OIDC_SECRET"

[[provider]]
name = "siths"
kind = "staff"
discovery_url = "https://idp.example.se/oidc/.well-known/openid-configuration"
client_id = "stegvis-personal"
auth_method = "private_key_jwt"
private_key_file = "nyckel.pem"
claims = ["employeeHsaId"]
acr_values = ["http://id.sambi.se/loa/loa3"]
"""


def test_config__toml_with_defaults_secret_from_environment_and_key_beside_the_file(tmp_path):
    from oidc.testprovider import make_staff_key

    key, _ = make_staff_key(tmp_path)
    key.rename(tmp_path / "nyckel.pem")
    path = tmp_path / "oidc.toml"
    path.write_text(GOOD, "utf-8")
    patient, staff = load_oidc_config(path, {"TEST_OIDC_SECRET": "hemligt"})
    assert patient.client_secret == "hemligt" and "hemligt" not in repr(patient)
    assert patient.issuer == "https://idp.example.se/oidc"
    assert patient.label == "Logga in med e-legitimation" and staff.label == "Logga in med SITHS-kort"
    assert patient.claims[0] == "https://id.oidc.se/claim/personalIdentityNumber"
    assert staff.private_key_file == tmp_path / "nyckel.pem" and staff.clock_skew_seconds == 60


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace('kind = "patient"', 'kind = "invanare"'), "provider[0].kind"),
    (GOOD, "provider[0]: Value error, auth_method client_secret_basic needs client_secret"),
    (GOOD.replace("https://idp.example.se/oidc\"", "http://idp.example.se/oidc\""), "must be an https://"),
    (GOOD.replace('"siths"', '"e-legitimation"'), 'name "e-legitimation" is used twice'),
    ("fel = 1\n" + GOOD, 'bara nyckeln "provider"'),
    (GOOD.replace("client_id = \"stegvis\"", "client_id = \"stegvis\"\nscopes = [\"profile\"]"),
     'scopes must include "openid"'),
    ("[[provider]\n", "är inte giltig TOML"),
])
def test_config__bad__every_problem_named(tmp_path, text, expected):
    (tmp_path / "nyckel.pem").write_text("x")
    path = tmp_path / "oidc.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(OidcConfigError) as refused:
        load_oidc_config(path, {})
    assert expected in str(refused.value)


def test_config__json_and_a_bad_private_key(tmp_path):
    import json

    (tmp_path / "nyckel.pem").write_text("inte en nyckel")
    path = tmp_path / "oidc.json"
    path.write_text(json.dumps({"provider": [{"name": "siths", "kind": "staff", "discovery_url": ISSUER,
                                              "client_id": "c", "auth_method": "private_key_jwt",
                                              "private_key_file": "nyckel.pem"}]}), "utf-8")
    with pytest.raises(OidcConfigError, match="inte en privat RSA-nyckel i PEM"):
        load_oidc_config(path, {})


def test_runtime_command__bad_config_exits_2_with_the_problem_and_no_traceback(tmp_path, capsys, monkeypatch):
    from builder.cli import main

    path = tmp_path / "oidc.toml"
    path.write_text(GOOD, "utf-8")
    assert main(["runtime", "--oidc-config", str(path), "--packages", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "stegvis: OpenID Connect-konfigurationen" in err and "needs client_secret" in err
    assert "Traceback" not in err
    monkeypatch.setenv("STEGVIS_OIDC_CONFIG", str(tmp_path / "finns-inte.toml"))
    assert main(["runtime", "--packages", str(tmp_path)]) == 2
    assert "går inte att läsa" in capsys.readouterr().err


def test_settings__survive_the_json_trip_to_worker_processes(tmp_path):
    from runtime.settings import RuntimeSettings

    config = OidcProviderConfig(name="e-legitimation", kind="patient", discovery_url=ISSUER, client_id="c",
                                client_secret="hemligt")
    settings = RuntimeSettings(packages=Path("dist"), oidc_providers=(config,))
    again = RuntimeSettings.model_validate_json(settings.model_dump_json())
    assert again.oidc_providers == (config,) and again.oidc_providers[0].client_secret == "hemligt"
