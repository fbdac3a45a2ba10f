"""Logins through OpenID Connect (issue #13): logins under way, matching people, logout at the provider.

The service between `runtime/oidc.py` (the protocol) and the routes in
`runtime/oidc_pages.py`:

- `begin_login` keeps a login under way in the database: the sha256 of its `state`
  and of the browser's binding cookie, its `nonce` and PKCE verifier. `take_login`
  deletes it when the browser comes back, so a state (and with it the nonce) is
  used once, by the browser that started it, within `login_minutes`.
- `OidcLoginProvider` is the runtime's `LoginProvider` for one provider: it turns a
  verified identifier into a `User`. Patients by personnummer or samordningsnummer
  (validated by runtime.identity) to a citizen a therapist started, staff by HSA-id
  to a member of staff with a live role; never across kinds, so a patient provider's
  claim never reaches a staff account, nor the other way round.
- `logout_url` gives the provider's end-session URL for a session it started.

Every login and failed login writes an access-log row (`login`, `login.failed` with
the reason as target); application logs carry reasons and ids, never personnummer.

Must not: import FastAPI or route modules.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from runtime.audit import write_access
from runtime.auth import LoginFailed
from runtime.enrolments import login_refusal
from runtime.i18n import N_
from runtime.identity import InvalidPersonalNumber, parse_personal_number
from runtime.models import LoginSession, OidcPendingLogin, OidcSessionToken, UnitRole, User, UserKind
from runtime.oidc import REFUSED, OidcClient, OidcError, OidcProviderConfig, origin, secret_hash

log = logging.getLogger("stegvis.runtime.oidc")

#: The HSA-id of a person: as runtime/staff/admin.py checks it when an access administrator enters one.
HSA_ID = re.compile(r"SE\d{10}-[A-Z0-9]{1,30}")

NO_PROGRAM = N_("Du har inget pågående program här. Om du har kommit överens med en behandlare om att börja ett "
                "program, kontakta din vårdenhet: när behandlaren har startat programmet kan du logga in. "
                "Har du frågor om din vård, kontakta din vårdenhet, till exempel via 1177.")
STAFF_UNKNOWN = ("Ditt HSA-id {hsa} har inget konto i Stegvis. Be behörighetsadministratören på din vårdenhet "
                 "att lägga till dig med ditt HSA-id och ge dig en roll.")
STAFF_NO_ROLE = ("Du har ingen roll på någon vårdenhet i Stegvis just nu. Be behörighetsadministratören på din "
                 "vårdenhet att ge dig en roll.")
STAFF_BAD_ID = ("Inloggningstjänsten lämnade inget giltigt HSA-id. Kontakta behörighetsadministratören på din "
                "vårdenhet.")
PATIENT_BAD_ID = N_("Inloggningstjänsten lämnade inget giltigt personnummer eller samordningsnummer. Kontakta din "
                    "vårdenhet om det inte går att logga in.")
DISABLED = N_("Kontot är avstängt. Kontakta din vårdenhet.")
EXPIRED = N_("Inloggningen tog för lång tid eller har redan använts. Börja om och logga in igen.")
CANCELLED = N_("Inloggningen avbröts. Försök igen när du vill.")


class NoProgram(LoginFailed):
    """A valid person with nothing to open here: shown as a page of its own, not as an error."""


class StaffRefused(LoginFailed):
    """A member of staff the runtime does not know, or who has no role: the message says whom to ask."""


@dataclass
class LoginRefused(Exception):
    """A refused login, for the route to show: why (English, for the logs), what to say (Swedish)."""

    reason: str
    message: str
    patient_id: int | None = None
    no_program: bool = False


class OidcLoginProvider:
    """The runtime's login provider for one OpenID Connect provider (see `runtime.auth.LoginProvider`)."""

    def __init__(self, client: OidcClient) -> None:
        self.client = client
        self.config: OidcProviderConfig = client.config
        self.name = self.config.login_provider_name

    def authenticate(self, db: Session, credentials: Mapping[str, str], now: datetime) -> User:
        """The person a verified identifier names (`credentials["identity"]`), or raise LoginFailed."""
        identity = credentials.get("identity") or ""
        if self.config.kind == "patient":
            return self._patient(db, identity, now)
        return self._staff(db, identity, now)

    def _patient(self, db: Session, identity: str, now: datetime) -> User:
        try:
            number = parse_personal_number(identity, now.date())
        except InvalidPersonalNumber:
            raise LoginFailed(PATIENT_BAD_ID) from None
        user = db.scalar(select(User).where(User.personal_number == number.digits, User.kind == UserKind.citizen))
        if user is None:
            raise NoProgram(NO_PROGRAM)
        if user.disabled_at is not None:
            raise LoginFailed(DISABLED)
        return user

    def _staff(self, db: Session, identity: str, now: datetime) -> User:
        hsa = identity.strip().upper()
        if not HSA_ID.fullmatch(hsa):
            raise StaffRefused(STAFF_BAD_ID)
        user = db.scalar(select(User).where(User.hsa_id == hsa, User.kind == UserKind.staff))
        if user is None:
            raise StaffRefused(STAFF_UNKNOWN.format(hsa=hsa))
        if user.disabled_at is not None:
            raise StaffRefused(DISABLED)
        live = db.scalar(select(UnitRole.id).where(UnitRole.user_id == user.id, UnitRole.revoked_at.is_(None))
                         .limit(1))
        if live is None:
            raise StaffRefused(STAFF_NO_ROLE)
        return user


def oidc_providers(providers: Mapping[str, object]) -> list[OidcLoginProvider]:
    """The OpenID Connect providers among an app's login providers, in configuration order."""
    return [p for p in providers.values() if isinstance(p, OidcLoginProvider)]


def find_provider(providers: Mapping[str, object], name: str) -> OidcLoginProvider | None:
    """The OpenID Connect provider with this short name, or None."""
    provider = providers.get(f"oidc:{name}")
    return provider if isinstance(provider, OidcLoginProvider) else None


def form_action_origins(providers: Mapping[str, object]) -> tuple[str, ...]:
    """Origins a form on our pages may lead to: the providers' (the logout form redirects to them)."""
    return tuple(sorted({origin(p.config.issuer) for p in oidc_providers(providers)}))


@dataclass(frozen=True)
class LoginButton:
    """One provider's button on the login page."""

    kind: str
    label: str
    url: str


def login_choices(providers: Mapping[str, object], local_accounts: bool) -> dict:
    """The login page's values: a button per provider, patients' first, and whether to show the password form."""
    buttons = [LoginButton(p.config.kind, p.config.label or p.config.name, f"/logga-in/oidc/{p.config.name}")
               for p in oidc_providers(providers)]
    buttons.sort(key=lambda b: b.kind != "patient")
    return {"oidc_patient": [b for b in buttons if b.kind == "patient"],
            "oidc_staff": [b for b in buttons if b.kind == "staff"],
            "local_form": local_accounts}


# --- logins under way ----------------------------------------------------------------------------


def begin_login(db: Session, provider: OidcLoginProvider, redirect_uri: str, browser_token: str,
                now: datetime) -> str:
    """Keep a new login under way and return the provider URL to send the browser to (OidcError if unreachable)."""
    request = provider.client.authorization_request(redirect_uri)
    db.execute(delete(OidcPendingLogin).where(OidcPendingLogin.expires_at < now))
    db.add(OidcPendingLogin(state_hash=secret_hash(request.state), browser_hash=secret_hash(browser_token),
                            provider=provider.config.name, nonce=request.nonce,
                            code_verifier=request.code_verifier, created_at=now,
                            expires_at=now + timedelta(minutes=provider.config.login_minutes)))
    return request.url


@dataclass(frozen=True)
class TakenLogin:
    """A login under way, taken (deleted) as the browser came back."""

    nonce: str
    code_verifier: str


def take_login(db: Session, provider: OidcLoginProvider, state: str, browser_token: str, now: datetime) -> TakenLogin:
    """Delete the login that `state` names and return it; LoginRefused if unknown, used, foreign or late."""
    if not state or len(state) > 200:
        raise LoginRefused("no_state", EXPIRED)
    row = db.scalar(select(OidcPendingLogin).where(OidcPendingLogin.state_hash == secret_hash(state)))
    if row is None:
        raise LoginRefused("unknown_state", EXPIRED)  # never issued, or used already: a replay
    # Whatever happens next, this state is used up. Two requests racing for it: one deletes, one sees 0 rows.
    deleted = db.execute(delete(OidcPendingLogin).where(OidcPendingLogin.id == row.id)).rowcount
    if deleted != 1:
        raise LoginRefused("unknown_state", EXPIRED)
    if row.provider != provider.config.name:
        raise LoginRefused("wrong_provider", EXPIRED)
    if not browser_token or secret_hash(browser_token) != row.browser_hash:
        raise LoginRefused("other_browser", EXPIRED)
    if row.expires_at <= now:
        raise LoginRefused("login_expired", EXPIRED)
    return TakenLogin(row.nonce, row.code_verifier)


def verify_login(provider: OidcLoginProvider, taken: TakenLogin, code: str, redirect_uri: str,
                 now: datetime, iss: str = "") -> tuple[str, str]:
    """Exchange the code and check the ID token (network; call outside a write transaction).

    `iss` is the authorization response's issuer (RFC 9207), when the provider sends one: it
    must be this provider's, or the code may be another provider's (a mix-up attack).
    Returns the identifier from the configured claim and the ID token; LoginRefused otherwise.
    """
    try:
        if iss and iss != provider.client.metadata().issuer:
            raise LoginRefused("iss_mismatch", REFUSED)
        verified = provider.client.finish(code, taken.code_verifier, redirect_uri, taken.nonce, now)
        return provider.client.identity(verified.claims), verified.id_token
    except OidcError as exc:
        raise LoginRefused(exc.reason, exc.message) from None


def match_person(db: Session, provider: OidcLoginProvider, identity: str, now: datetime, today) -> User:
    """The user the identifier names, allowed to log in today; LoginRefused (with a Swedish message) otherwise."""
    try:
        user = provider.authenticate(db, {"identity": identity}, now)
    except NoProgram as exc:
        raise LoginRefused("no_enrolment", exc.args[0], no_program=True) from None  # args[0]: a translatable Text
    except StaffRefused as exc:
        raise LoginRefused("staff_refused", str(exc)) from None
    except LoginFailed as exc:
        raise LoginRefused("person_refused", exc.args[0]) from None
    refusal = login_refusal(db, user, today)
    if refusal is not None:
        raise LoginRefused("no_open_enrolment", refusal, patient_id=user.id, no_program=True)
    return user


def record_login(db: Session, provider: OidcLoginProvider, user: User, session: LoginSession, id_token: str,
                 now: datetime) -> None:
    """After a session is started: keep its ID token (for logout) and write the access-log row."""
    db.add(OidcSessionToken(session_id=session.id, provider=provider.config.name, id_token=id_token))
    write_access(db, now, user, session, "login", target=f"oidc:{provider.config.name}",
                 patient_id=user.id if user.kind == UserKind.citizen else None)
    log.info("Inloggning via %s: användare %d.", provider.config.name, user.id)


def record_failure(db: Session, provider_name: str, refused: LoginRefused, now: datetime) -> None:
    """A failed login: one access-log row (anonymous; the patient's id when the person was known) and a log line."""
    write_access(db, now, None, None, "login.failed", target=f"oidc:{provider_name}:{refused.reason}"[:200],
                 patient_id=refused.patient_id)
    log.warning("Inloggning via %s misslyckades: %s.", provider_name, refused.reason)


def logout_url(db: Session, providers: Mapping[str, object], session: LoginSession, base_url: str) -> str | None:
    """The provider's end-session URL for a session it started (read before the session is deleted), or None."""
    row = db.get(OidcSessionToken, session.id)
    if row is None:
        return None
    provider = find_provider(providers, row.provider)
    if provider is None:
        return None
    url = provider.client.logout_url(row.id_token, f"{base_url}/utloggad")
    if url is not None and origin(url) not in form_action_origins(providers):
        # The logout form may lead only to the origins our CSP's form-action names (the issuers').
        log.warning("Leverantören %s: end_session_endpoint ligger inte hos utfärdaren; loggar bara ut här.",
                    provider.config.name)
        return None
    return url


def public_base(public_url: str | None, request_base_url: str) -> str:
    """This runtime's address as people reach it: STEGVIS_PUBLIC_URL, else the request's own (no trailing /)."""
    return (public_url or request_base_url).rstrip("/")


def redirect_uri(base_url: str, provider: OidcLoginProvider) -> str:
    """The address the provider sends the browser back to (register it at the provider)."""
    return f"{base_url}/logga-in/oidc/{provider.config.name}/tillbaka"
